/**
 * An OpenAI caller's `reasoning_effort` as Claude's extended thinking (docs: "Building with
 * extended thinking"). Pure. Rules it keeps, each one Anthropic enforces with a 400:
 *
 * - the budget is at least 1,024 tokens and below `max_tokens`. `max_tokens` is the router's
 *   reserved cap and counts the thinking (as an OpenAI reasoning model's cap counts its
 *   reasoning), so the budget is the effort's tier clamped to leave 1,024 tokens to answer;
 *   a cap too small for that (below 2,048) gets no thinking — the least effort there is;
 * - with thinking, `temperature` is 1 or unset, `top_p` is 0.95–1 or unset and `tool_choice`
 *   is `auto` or `none`: a caller who sets one of these otherwise goes without thinking —
 *   served as before `reasoning_effort` reached Claude at all (it was ignored), its explicit
 *   sampling and tool choice kept, rather than refused for a hint it added;
 * - a final assistant turn that holds tool use (the caller is returning tool results) or that
 *   is the last message (a prefill) must open with the thinking block Claude wrote. Chat
 *   callers never see thinking and cannot send it back, so such a request goes without it:
 *   in a tool loop the first step thinks, the steps that return tool results do not.
 *
 * A Claude model that cannot think at all (before Claude 3.7 Sonnet: `claudeThinks`) gets none.
 *
 * Tiers: low 4,096, medium 10,000, high (and `xhigh`) 32,000 — Claude Code's think / think
 * hard / ultrathink steps, which the inbound direction (`effortFor`) reads back as the same
 * efforts. `none` and `minimal` mean no thinking.
 */
import { fail, ok, type Result } from '../types';
import type { ChatRequest } from '../openai/chat-wire';
import type { MessageParam } from './wire';

/**
 * Claude models without extended thinking — every one before Claude 3.7 Sonnet (Claude 3 Opus,
 * Sonnet and Haiku, Claude 3.5 Sonnet and Haiku, Claude 2, Instant) — by any platform's id
 * (`claude-3-5-haiku-20241022`, Bedrock's `us.anthropic.claude-3-haiku-…`, Vertex's
 * `claude-3-5-sonnet-v2@…`, `claude-3.5-sonnet`): they answer `thinking` with a 400, so an
 * effort goes to them as a hint the model does not take, like `reasoning_effort` on any model
 * that has no reasoning. A name not listed (a later model, an alias) is taken to think.
 */
const NO_THINKING = /claude-(instant|2([.-]|$)|3-(opus|sonnet|haiku)|3[.-]5[.-])/i;

/** Whether Claude by this name takes `thinking` (see `NO_THINKING`). */
export const claudeThinks = (model: string): boolean => !NO_THINKING.test(model);

/** Anthropic's smallest thinking budget. */
export const MIN_THINKING_BUDGET = 1_024;

/** Tokens of the cap always left for the answer after the thinking budget. */
export const ANSWER_ROOM = 1_024;

const BUDGET_OF_EFFORT: Record<string, number | null> = {
  none: null,
  minimal: null,
  low: 4_096,
  medium: 10_000,
  high: 32_000,
  xhigh: 32_000,
};

export type Thinking = { type: 'enabled'; budget_tokens: number };

/** The effort's tier (null: no thinking asked), or the refusal of a value OpenAI does not define. */
function tierOf(effort: string | null | undefined): Result<number | null> {
  if (effort === undefined || effort === null) return ok(null);
  // Own keys only: an inherited name (`constructor`, `__proto__`) is no effort.
  const tier = Object.hasOwn(BUDGET_OF_EFFORT, effort) ? BUDGET_OF_EFFORT[effort] : undefined;
  if (tier === undefined) return fail('unsupported_value', `reasoning_effort must be one of ${Object.keys(BUDGET_OF_EFFORT).join(', ')}.`, 'reasoning_effort');
  return ok(tier);
}

/** Whether the caller set something Claude refuses alongside thinking (a temperature, a low top_p, a forced tool). */
function conflictsWithThinking(req: ChatRequest): boolean {
  const choice = req.tool_choice;
  return (
    (typeof req.temperature === 'number' && req.temperature !== 1) ||
    (typeof req.top_p === 'number' && req.top_p < 0.95) ||
    choice === 'required' ||
    (typeof choice === 'object' && choice !== null)
  );
}

/**
 * Whether Claude would need the thinking block of the final assistant turn, which a chat
 * caller cannot send: that turn holds tool use, or it is the last message (a prefill).
 */
export function needsThinkingBack(messages: MessageParam[]): boolean {
  const lastAssistant = messages.findLast((m) => m.role === 'assistant');
  if (!lastAssistant) return false;
  if (lastAssistant === messages.at(-1)) return true;
  return Array.isArray(lastAssistant.content) && lastAssistant.content.some((b) => b.type === 'tool_use');
}

/** The budget for a tier under the cap, or null when the cap cannot hold the minimum and an answer. */
export function budgetWithin(tier: number, cap: number): number | null {
  const budget = Math.min(tier, cap - ANSWER_ROOM);
  return budget >= MIN_THINKING_BUDGET ? budget : null;
}

/**
 * `thinking` for a translated request (undefined: none), or the refusal of an effort OpenAI
 * does not define. `messages` are the translated turns; `cap` the reserved `max_tokens`.
 */
export function thinkingFor(req: ChatRequest, messages: MessageParam[], cap: number): Result<Thinking | undefined> {
  const tier = tierOf(req.reasoning_effort);
  if (!tier.ok) return tier;
  if (tier.value === null || conflictsWithThinking(req) || needsThinkingBack(messages)) return ok(undefined);
  const budget = budgetWithin(tier.value, cap);
  return ok(budget === null ? undefined : { type: 'enabled', budget_tokens: budget });
}
