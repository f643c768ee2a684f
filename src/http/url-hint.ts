/**
 * A 404's hint for the two base-URL mistakes an SDK user makes: the OpenAI SDKs want the base
 * URL to end in `/v1` (they append `/chat/completions`), the Anthropic SDK wants the origin
 * alone (it appends `/v1/messages`). Pure, so the 404 handler stays one line.
 */
const SERVED = [
  '/chat/completions',
  '/completions',
  '/embeddings',
  '/responses',
  '/conversations',
  '/moderations',
  '/images/generations',
  '/images/edits',
  '/audio/speech',
  '/audio/transcriptions',
  '/audio/translations',
  '/messages',
  '/models',
];

function served(rest: string): boolean {
  return SERVED.some((p) => rest === p || rest === `${p}/` || rest.startsWith(`${p}/`));
}

export function baseUrlHint(path: string): string | undefined {
  if (path.startsWith('/v1/v1/') && served(path.slice(6))) {
    return `the base URL ends in /v1 and the client added /v1 again: the router serves ${path.slice(3)} (the Anthropic SDK and ANTHROPIC_BASE_URL take the origin alone; the OpenAI SDKs take it with /v1)`;
  }
  if (!path.startsWith('/v1/') && served(path)) {
    return path.startsWith('/messages')
      ? `the router serves /v1${path}: the Anthropic SDK appends /v1/messages to its base URL, which is the router's origin alone`
      : `the router serves /v1${path}: set the client's base URL to end in /v1 (the OpenAI SDKs append ${path} to it)`;
  }
  return undefined;
}
