/**
 * Whether a request's time is partly the caller's own: parts the node fetches from where
 * the caller says (a remote `image_url` / `input_image`, Anthropic `url` sources) or reads
 * from files (`file` / `input_file`, Anthropic `document` parts by URL or file id). A slow
 * host of the caller's, or a large file, would read as a slow node: such requests' timings
 * do not feed the live view or the tables (their failures still count: `forward/engine.ts`).
 * Inline data (`data:` URLs, base64 sources) is in the body, and bounded with its size.
 * Pure; recursive over a body whose nesting is bounded on parse (`MAX_JSON_DEPTH`).
 */
const remote = (url: unknown) => typeof url === 'string' && !url.startsWith('data:');
/** `image_url` is a string or `{ url }`. */
const urlOf = (image: unknown) => (image !== null && typeof image === 'object' ? (image as { url?: unknown }).url : image);

function fetched(part: Record<string, unknown>): boolean {
  switch (part.type) {
    case 'image_url':
      return remote(urlOf(part.image_url));
    case 'input_image':
      return remote(urlOf(part.image_url)) || remote(part.url) || typeof part.file_id === 'string';
    case 'file':
    case 'input_file':
      return true;
    case 'image':
    case 'document': {
      const source = part.source as { type?: unknown } | undefined;
      return source?.type === 'url' || source?.type === 'file';
    }
  }
  return false;
}

export function callerTimed(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(callerTimed);
  if (value === null || typeof value !== 'object') return false;
  const part = value as Record<string, unknown>;
  return fetched(part) || Object.values(part).some(callerTimed);
}
