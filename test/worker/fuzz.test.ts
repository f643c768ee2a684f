/**
 * A seeded, bounded fuzz of every POST endpoint of README "API", through the Worker's entry
 * against the fleet. Valid bodies are mutated — keys dropped or given twice, types swapped,
 * odd numbers, nesting past `MAX_JSON_DEPTH`, escaped and case-folded names, lone
 * surrogates, empty arrays, long strings, truncation, a BOM, trailing garbage, wrong content
 * types; forms broken likewise — and every answer must keep README "Errors"' promise: no
 * 5xx the router made itself, an error in the caller's API shape with a message and no
 * stack trace, an answer that ends, and nothing held afterwards (the key's slot and spend).
 *
 * `FUZZ_SEED=<n> npx vitest run --project worker test/worker/fuzz.test.ts` runs other bodies
 * (`test/setup/global-setup.ts` hands the seed over); the default is fixed, so CI runs the
 * same ones. A failure names its seed and case.
 */
import { exports } from 'cloudflare:workers';
import { expect, inject, it } from 'vitest';
import { encoder, formCase, JSON_TARGETS, jsonCase, userMsg, type Case, type JsonTarget } from './fuzz-cases';
import { rng } from './fuzz-tree';
import { admin, CF, newKey, resetWorld } from './helpers';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `FUZZ_SEED`, or null for the fixed default (`test/setup/global-setup.ts`). */
    fuzzSeed: number | null;
  }
}

const SEED = inject('fuzzSeed') ?? 20261203;
/** Mutated bodies per JSON endpoint (9); the two form endpoints take half as many each. */
const CASES = 26;
const ANSWER_MS = 10_000;

// ---------------------------------------------------------------- what every answer must be

/** Stack frames and source locations: never in an answer. */
const STACK = /\n\s+at |\bat [\w$.<>]+ \(|\.ts:\d+|\.js:\d+|node_modules|file:\/\//;

interface Seen {
  status: number;
  node: string | null;
  text: string;
}

/** What is wrong with an answer, or null. */
function problem(c: Case, seen: Seen): string | null {
  const { status, node, text } = seen;
  // A 5xx the router made itself; the node's own (x-router-node names it) is the fleet's.
  if ([500, 502, 503, 504].includes(status) && !node) return `router ${status}`;
  if (STACK.test(text)) return 'stack trace text in the answer';
  if (status < 400) return c.mustRefuse ? `answered ${status}, though the body has ${c.mustRefuse}` : null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return 'error body is not JSON';
  }
  const error = (json as { error?: Record<string, unknown> }).error;
  if (!error || typeof error.message !== 'string' || error.message.trim() === '') return 'no error message';
  if (c.face === 'anthropic') {
    if ((json as { type?: unknown }).type !== 'error' || typeof error.type !== 'string') return 'not Anthropic\'s error shape';
  } else if (!['message', 'type', 'param', 'code'].every((k) => k in error) || typeof error.type !== 'string') {
    return 'not OpenAI\'s error shape';
  }
  return null;
}

async function send(c: Case, key: string): Promise<Seen> {
  const headers = new Headers(c.face === 'anthropic' ? { 'x-api-key': key, 'anthropic-version': '2023-06-01' } : { authorization: `Bearer ${key}` });
  if (c.contentType !== null) headers.set('content-type', c.contentType);
  for (const [name, value] of Object.entries(c.headers)) headers.set(name, value);
  const signal = AbortSignal.timeout(ANSWER_MS);
  const timedOut = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new Error(`no whole answer within ${ANSWER_MS} ms`))));
  const answer = (async () => {
    const res = await exports.default.fetch(new Request(`https://router.test${c.path}`, { method: 'POST', headers, body: c.body, signal, cf: CF.iad } as RequestInit));
    const bytes = new Uint8Array(await res.arrayBuffer());
    // Audio is binary: only text answers are read for stack traces.
    const binary = (res.headers.get('content-type') ?? '').startsWith('audio/');
    return { status: res.status, node: res.headers.get('x-router-node'), text: binary ? '' : new TextDecoder().decode(bytes) };
  })();
  return Promise.race([answer, timedOut]);
}

interface Usage {
  inFlight: number;
  window: { requests: number; tokens: number };
  spend: { heldUsd: number };
}
const usageOf = async (id: string) => (await admin(`/keys/${id}/usage`)).json<Usage>();

/** The key's slot and spend free again (settlement runs after the answer, in waitUntil): bounded poll. */
async function released(id: string): Promise<Usage> {
  let u = await usageOf(id);
  for (let i = 0; i < 40 && (u.inFlight !== 0 || u.spend.heldUsd !== 0); i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    u = await usageOf(id);
  }
  return u;
}

it(`keeps the error promise for mutated bodies on every POST endpoint (seed ${SEED}), and holds nothing after`, async () => {
  await resetWorld();
  // One slot, so a slot left held would refuse the very next request; spend counted (claude-x is priced).
  const { key, id } = await newKey({ limits: { concurrency: 1, rpm: 100_000, tpm: 50_000_000, dailyUsd: 1_000 } });
  const r = rng(SEED);
  const cases: Case[] = [
    ...JSON_TARGETS.flatMap((t) => Array.from({ length: CASES }, () => jsonCase(t, r))),
    ...['/v1/audio/transcriptions', '/v1/audio/translations'].flatMap((p) => Array.from({ length: CASES / 2 }, () => formCase(p, r))),
  ];
  const failures: string[] = [];
  const statuses: Record<number, number> = {};
  for (const [i, c] of cases.entries()) {
    const where = `seed ${SEED} case ${i} POST ${c.path} [${c.label}]`;
    let seen: Seen;
    try {
      seen = await send(c, key);
    } catch (err) {
      // A hang is reported at once: more of them would only run the test out of time.
      failures.push(`${where}: ${String(err)}\n  body: ${new TextDecoder().decode(c.body.subarray(0, 600))}`);
      break;
    }
    statuses[seen.status] = (statuses[seen.status] ?? 0) + 1;
    const wrong = problem(c, seen);
    if (wrong) failures.push(`${where}: ${wrong} — ${seen.status} ${seen.text.slice(0, 300)}\n  body: ${new TextDecoder().decode(c.body.subarray(0, 600))}`);
    const after = await released(id);
    if (after.inFlight !== 0 || after.spend.heldUsd !== 0) {
      failures.push(`${where}: left held — inFlight ${after.inFlight}, heldUsd ${after.spend.heldUsd}`);
      break;
    }
  }
  // Then side by side, 8 at a time: the one slot refuses most (429), and the refusals, the
  // admitted and their settlements interleave; still nothing may stay held.
  // Half of them unmutated, so that they reach admission together.
  const valid = (t: JsonTarget): Case => ({ path: t.path, face: t.face, label: 'unchanged', body: encoder.encode(JSON.stringify(r.pick(t.seeds))), contentType: 'application/json', headers: {}, mustRefuse: null });
  const burst = JSON_TARGETS.flatMap((t) => Array.from({ length: 4 }, () => (r.chance(0.5) ? valid(t) : jsonCase(t, r))));
  for (let at = 0; at < burst.length && failures.length === 0; at += 8) {
    const batch = burst.slice(at, at + 8);
    const answers = await Promise.allSettled(batch.map((c) => send(c, key)));
    answers.forEach((a, j) => {
      const c = batch[j]!;
      const where = `seed ${SEED} burst case ${at + j} POST ${c.path} [${c.label}]`;
      if (a.status === 'rejected') failures.push(`${where}: ${String(a.reason)}`);
      else {
        statuses[a.value.status] = (statuses[a.value.status] ?? 0) + 1;
        const wrong = problem(c, a.value);
        if (wrong) failures.push(`${where}: ${wrong} — ${a.value.status} ${a.value.text.slice(0, 300)}`);
      }
    });
  }
  const afterBurst = await released(id);
  if (afterBurst.inFlight !== 0 || afterBurst.spend.heldUsd !== 0) failures.push(`seed ${SEED} burst: left held — inFlight ${afterBurst.inFlight}, heldUsd ${afterBurst.spend.heldUsd}`);
  expect(failures, `statuses ${JSON.stringify(statuses)}`).toEqual([]);
  // Nothing held: the one-slot key makes an ordinary request.
  const res = await exports.default.fetch(
    new Request('https://router.test/v1/chat/completions', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-x', messages: [userMsg('Still there?')], max_tokens: 8 }),
      cf: CF.iad,
    } as RequestInit),
  );
  expect(res.status, await res.clone().text()).toBe(200);
  await res.arrayBuffer();
  const end = await released(id);
  expect({ inFlight: end.inFlight, heldUsd: end.spend.heldUsd }).toEqual({ inFlight: 0, heldUsd: 0 });
  // A mix that reached nodes as well as refusals (a fuzz of 400s alone would test the parser only).
  expect(statuses[200] ?? 0).toBeGreaterThan(20);
}, 120_000);
