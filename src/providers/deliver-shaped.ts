/**
 * An accepted answer (or a caller error) delivered through its `AnswerShape`: JSON translated
 * (or passed) with usage read from the node's own answer, a stream through
 * `relayTranslated`, an error body in the caller's format. A 2xx JSON answer that cannot be
 * translated is the node's fault, reported as a 502 in the caller's format, never a 500.
 */
import type { Usage } from '../forward/usage';
import type { RelayOptions } from '../forward/relay';
import type { SentAttempt } from '../forward/upstream';
import { parseJsonBytes } from '../http/json-top';
import { settlementUsage, type AnswerShape } from './answer';
import { relayTranslated } from './stream-relay';

const json = (body: unknown, status: number) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** A node answer the router cannot read or translate, in the caller's error shape. */
function unreadable(shape: AnswerShape, message: string): Response {
  const body =
    shape.caller === 'anthropic'
      ? { type: 'error', error: { type: 'api_error', message } }
      : { error: { message, type: 'server_error', param: null, code: 'upstream_answer_untranslatable' } };
  return json(body, 502);
}

export function deliverShaped(shape: AnswerShape, sent: SentAttempt, relay: RelayOptions & { maxEventBytes: number }): { response: Response; usage: Promise<Usage | undefined> } {
  const upstream = sent.response!;
  if (sent.stream) {
    const { body, summary } = relayTranslated(sent.stream.reader, sent.stream.first, { ...relay, caller: shape.caller, pass: shape.pass }, shape.stream());
    const headers = new Headers({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    return { response: new Response(body, { status: upstream.status, headers }), usage: summary.then((s) => s.usage) };
  }
  const parsed = parseJsonBytes(sent.body);
  if (!upstream.ok) {
    const { status, body } = shape.error(upstream.status, upstream.headers, parsed);
    return { response: json(body, status), usage: Promise.resolve(undefined) };
  }
  const canonical = parsed === undefined ? undefined : shape.usage(parsed);
  const usage = Promise.resolve(canonical ? settlementUsage(canonical) : undefined);
  if (!shape.json) return { response: new Response(sent.body ?? new Uint8Array(), { status: upstream.status, headers: { 'content-type': 'application/json' } }), usage };
  const translated = parsed === undefined ? undefined : shape.json(parsed);
  if (!translated?.ok) return { response: unreadable(shape, `The node's answer could not be read${translated ? `: ${translated.error.message}` : ' (not JSON)'}.`), usage };
  return { response: json(translated.value, upstream.status), usage };
}
