/**
 * The OpenAI endpoints the router forwards, as data: what each one sends, how its answer
 * is relayed, which parameter caps its output, and how it is charged against a key's limits.
 * Nodes declare the endpoint groups they serve (`nodes[].endpoints`); a request only plans
 * attempts on nodes that serve its group.
 */

export type Endpoint =
  | 'chat'
  | 'completions'
  | 'embeddings'
  | 'responses'
  /** `POST /v1/responses/compact`: a compaction pass over a conversation (its input, or a previous response's stored context); no output cap. */
  | 'responsesCompact'
  | 'moderations'
  | 'images'
  /** `POST /v1/images/edits`: a multipart form of the images to edit (`image`, or `image[]` up to 16), an optional `mask` or `markup`, and the generation's fields. */
  | 'imageEdits'
  | 'speech'
  | 'transcriptions'
  | 'translations'
  /** Anthropic Messages (`POST /v1/messages`), inbound from Anthropic callers (`providers/anthropic-inbound/`). */
  | 'messages';

/** What a node can declare in `nodes[].endpoints`. */
export const ENDPOINT_GROUPS = ['chat', 'completions', 'embeddings', 'responses', 'moderations', 'images', 'audio'] as const;
export type EndpointGroup = (typeof ENDPOINT_GROUPS)[number];

export interface EndpointSpec {
  /** Appended to the node's baseUrl. */
  path: string;
  group: EndpointGroup;
  /** JSON bodies are parsed and spliced; multipart forms are resent byte for byte. */
  body: 'json' | 'multipart';
  /**
   * How a streamed answer is relayed: `chat` (SSE ending in `[DONE]`), `responses` (typed SSE
   * events ending in `response.completed`), `bytes` (audio, passed through as it arrives),
   * `anthropic` (Messages events ending in `message_stop`: `providers/stream-relay.ts`).
   */
  stream: 'chat' | 'responses' | 'bytes' | 'anthropic';
  /**
   * A JSON answer that is not a generation (embeddings, moderations): its time is network and
   * node, so it is a latency signal for the isolate's live view like a stream's first byte.
   */
  quick?: true;
  /** Always streamed back, whatever the body says (binary audio). */
  alwaysStreams?: boolean;
  /**
   * Token accounting: `tokens` reserves prompt estimate + cap and settles to reported usage;
   * `requests` reserves no tokens (rpm and concurrency only) and records usage if reported;
   * spend budgets hold its unit price (`price.perImage`, `perMillionChars`, `perMinute`:
   * `limits/reservation.ts`).
   */
  charge: 'tokens' | 'requests';
  /** The output cap the router sends when the caller sets none (chat picks per model). */
  cap?: { param: 'max_tokens' | 'max_output_tokens'; default: 'model' | number };
}

export const ENDPOINTS: Record<Endpoint, EndpointSpec> = {
  chat: { path: '/chat/completions', group: 'chat', body: 'json', stream: 'chat', charge: 'tokens', cap: { param: 'max_tokens', default: 'model' } },
  // Legacy completions default to 16 tokens (OpenAI's and vLLM's default): the router keeps that default, explicitly.
  completions: { path: '/completions', group: 'completions', body: 'json', stream: 'chat', charge: 'tokens', cap: { param: 'max_tokens', default: 16 } },
  embeddings: { path: '/embeddings', group: 'embeddings', body: 'json', stream: 'chat', quick: true, charge: 'tokens' },
  responses: { path: '/responses', group: 'responses', body: 'json', stream: 'responses', charge: 'tokens', cap: { param: 'max_output_tokens', default: 'model' } },
  // Takes no output cap: the compaction's reasoning and summary are bounded only by the context window (`limits/reservation.ts`).
  responsesCompact: { path: '/responses/compact', group: 'responses', body: 'json', stream: 'responses', charge: 'tokens' },
  moderations: { path: '/moderations', group: 'moderations', body: 'json', stream: 'chat', quick: true, charge: 'requests' },
  images: { path: '/images/generations', group: 'images', body: 'json', stream: 'chat', charge: 'requests' },
  imageEdits: { path: '/images/edits', group: 'images', body: 'multipart', stream: 'chat', charge: 'requests' },
  speech: { path: '/audio/speech', group: 'audio', body: 'json', stream: 'bytes', alwaysStreams: true, charge: 'requests' },
  transcriptions: { path: '/audio/transcriptions', group: 'audio', body: 'multipart', stream: 'bytes', charge: 'requests' },
  translations: { path: '/audio/translations', group: 'audio', body: 'multipart', stream: 'bytes', charge: 'requests' },
  // Served by chat nodes: byte for byte to Anthropic nodes, translated to chat for the rest. `max_tokens` is required.
  messages: { path: '/messages', group: 'chat', body: 'json', stream: 'anthropic', charge: 'tokens', cap: { param: 'max_tokens', default: 'model' } },
};

/** Endpoints that draw images, charged per image (`n`): generations and edits. */
export const drawsImages = (endpoint: Endpoint): endpoint is 'images' | 'imageEdits' => endpoint === 'images' || endpoint === 'imageEdits';

/** Endpoints whose body is read as a Responses request (`input`, `instructions`, `previous_response_id`). */
export const readsResponses = (endpoint: Endpoint): endpoint is 'responses' | 'responsesCompact' => endpoint === 'responses' || endpoint === 'responsesCompact';
