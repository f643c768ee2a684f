/**
 * An accepted attempt as the caller's response: a stream relayed in its endpoint's format
 * (`relay.ts`), or a JSON answer's bytes as read — with the usage it reports, for settling.
 * Only a few upstream headers pass (content type, caching, a file name); the router adds
 * its own.
 */
import type { ParsedRequest } from '../openai/requests';
import { drawsImages, ENDPOINTS } from '../openai/endpoints';
import { responseIdTagger, type ResponseOwner } from '../openai/response-ids';
import { deliverShaped } from '../providers/deliver-shaped';
import type { AnswerShape } from '../providers/answer';
import { audioUsageTap } from './audio-usage';
import { relayBytes, relaySse } from './relay';
import type { SentAttempt } from './upstream';
import { usageFromJson, type Usage } from './usage';

const PASSED = ['content-type', 'cache-control', 'content-disposition'];

/** The response's headers in one record (one native Headers build): the upstream's few, then the router's own. */
function responseHeaders(upstream: Response, own: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of PASSED) {
    const value = upstream.headers.get(name);
    if (value) headers[name] = value;
  }
  return Object.assign(headers, own);
}

/** An image stream is complete after one `….completed` event per image asked for (`relay.ts`). */
function imageStream(request: ParsedRequest): { imageCompletions?: number } {
  if (!drawsImages(request.endpoint)) return {};
  const n = request.body.n;
  return { imageCompletions: typeof n === 'number' && n > 0 ? n : 1 };
}

/** An audio answer sent as events (a streamed transcription, speech with `stream_format: "sse"`): its done event carries the usage. */
const eventStream = (upstream: Response) => upstream.headers.get('content-type')?.toLowerCase().startsWith('text/event-stream') === true;

/**
 * The accepted answer as the caller's response: a relayed stream, or the JSON bytes as read.
 * Responses answers have their response ids tagged with the node (`response-ids.ts`).
 */
export function deliver(
  request: ParsedRequest,
  owner: ResponseOwner | undefined,
  sent: SentAttempt,
  relay: { deadline: number; idleMs: number; stripUsage: boolean; maxEventBytes: number },
  /** The router's own headers (rate limits, request id, `x-router-*`), over the upstream's. */
  own: Record<string, string>,
  /** Another provider or caller format (`providers/answer.ts`): translated or observed there. */
  shape?: AnswerShape,
): { response: Response; usage: Promise<Usage | undefined> } {
  if (shape) {
    const shaped = deliverShaped(shape, sent, relay);
    for (const [name, value] of Object.entries(own)) shaped.response.headers.set(name, value);
    return shaped;
  }
  const upstream = sent.response!;
  const headers = responseHeaders(upstream, own);
  const format = ENDPOINTS[request.endpoint].stream;
  if (format === 'anthropic') throw new Error('Messages answers always have a shape (providers/answer.ts).');
  const rewrite = request.endpoint === 'responses' && owner ? responseIdTagger(owner) : undefined;
  if (sent.stream) {
    const { body, summary } =
      format === 'bytes'
        ? relayBytes(sent.stream.reader, sent.stream.first, relay, eventStream(upstream) ? audioUsageTap(relay.maxEventBytes) : undefined)
        : relaySse(sent.stream.reader, sent.stream.first, { ...relay, format, ...(rewrite ? { rewrite } : {}), ...imageStream(request) });
    return { response: new Response(body, { status: upstream.status, headers }), usage: summary.then((s) => s.usage) };
  }
  let body = sent.body ?? new Uint8Array();
  if (rewrite && upstream.ok) body = new TextEncoder().encode(rewrite(new TextDecoder().decode(body)));
  return { response: new Response(body, { status: upstream.status, headers }), usage: Promise.resolve(usageFromJson(body)) };
}

