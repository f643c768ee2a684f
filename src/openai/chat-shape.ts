/**
 * The chat body check the hot path runs instead of zod: true only when `ChatRequestSchema`
 * would accept the body as it is (the schema's loose objects change nothing, so the parsed
 * JSON is the body zod would return). Stricter than the schema where that is simpler — any
 * body it does not pass goes to zod, which gives the same answer and its error message — so
 * it can never accept what the schema refuses (`test/unit/chat-shape.test.ts`). zod without
 * its JIT (workerd forbids `new Function`) walked and copied every message: ~2% of a JSON
 * request's CPU.
 */

/** OpenAI's range for `n` (choices per prompt), the schemas' too (`requests.ts`). */
export const MAX_CHOICES = 128;
/** `best_of`'s range (completions; vLLM-style chat nodes bill it too), the schemas' too. */
export const MAX_BEST_OF = 20;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Absent, null, or a safe integer in [min, max]. */
const countIn = (v: unknown, min: number, max: number) => v === undefined || v === null || (Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max);

const absentOr = (v: unknown, type: 'boolean') => v === undefined || v === null || typeof v === type;

function messagesHold(messages: unknown): boolean {
  if (!Array.isArray(messages) || messages.length === 0) return false;
  for (const m of messages) {
    if (!isRecord(m) || typeof m.role !== 'string' || m.role === '') return false;
  }
  return true;
}

function streamOptionsHold(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  return isRecord(v) && (v.include_usage === undefined || typeof v.include_usage === 'boolean');
}

/** Whether `ChatRequestSchema` (`requests.ts`) certainly accepts `body` unchanged. */
export function chatShapeHolds(body: Record<string, unknown>): boolean {
  // An own `__proto__` member: zod's copy would make it the prototype; zod decides.
  if (Object.prototype.hasOwnProperty.call(body, '__proto__')) return false;
  return (
    typeof body.model === 'string' &&
    body.model !== '' &&
    messagesHold(body.messages) &&
    absentOr(body.stream, 'boolean') &&
    streamOptionsHold(body.stream_options) &&
    countIn(body.max_tokens, 1, Number.MAX_SAFE_INTEGER) &&
    countIn(body.max_completion_tokens, 1, Number.MAX_SAFE_INTEGER) &&
    countIn(body.n, 1, MAX_CHOICES) &&
    countIn(body.best_of, 1, MAX_BEST_OF)
  );
}
