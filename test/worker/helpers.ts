/**
 * Helpers for workerd tests: call the Worker with an explicit `cf`, drive the fleet's
 * knobs over loopback, and mint keys through the real admin API.
 */
import { env, exports } from 'cloudflare:workers';
import { createExecutionContext, runInDurableObject } from 'cloudflare:test';
import worker from '../../src/index';
import { resetIsolate } from '../../src/isolate';
import OpenAI from 'openai';
import { expect } from 'vitest';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';
const CONTROL = () => (env as unknown as { FLEET_CONTROL_URL: string }).FLEET_CONTROL_URL;

export const CF = {
  /** Ashburn, US — nearest node n-us. */
  iad: { colo: 'IAD', latitude: '38.95', longitude: '-77.45', country: 'US', continent: 'NA' },
  /** Frankfurt, DE — nearest node n-eu. */
  fra: { colo: 'FRA', latitude: '50.05', longitude: '8.60', country: 'DE', continent: 'EU' },
  /** Tokyo, JP — nearest node n-ap. */
  nrt: { colo: 'NRT', latitude: '35.76', longitude: '140.39', country: 'JP', continent: 'AS' },
};

export interface CallOptions {
  method?: string;
  body?: unknown;
  key?: string | null;
  cf?: Record<string, unknown>;
  headers?: Record<string, string>;
}

function buildRequest(path: string, options: CallOptions): Request {
  const headers = new Headers(options.headers);
  if (options.key) headers.set('authorization', `Bearer ${options.key}`);
  let body: BodyInit | undefined;
  if (options.body instanceof FormData) body = options.body; // the runtime writes the multipart content type
  else if (options.body instanceof Uint8Array) body = options.body; // bytes as they are (a form written out, its length declared)
  else if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  }
  return new Request(`https://router.test${path}`, {
    method: options.method ?? (body ? 'POST' : 'GET'),
    headers,
    body,
    cf: options.cf ?? CF.iad,
  } as RequestInit);
}

export function call(path: string, options: CallOptions = {}): Promise<Response> {
  return exports.default.fetch(buildRequest(path, options));
}

/** The test config as a loose object, for tests that build a variant of it (bad fields included). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- deliberately untyped: tests write invalid shapes
export function testConfig(): Record<string, any> {
  return JSON.parse(env.ROUTER_CONFIG as unknown as string);
}

/** Call the Worker's handler with another ROUTER_CONFIG (an object, or raw text), and any bindings replaced (`bindings`). */
export async function callWithConfig(config: object | string, path: string, options: CallOptions = {}, bindings: Record<string, unknown> = {}): Promise<Response> {
  const raw = typeof config === 'string' ? config : JSON.stringify(config);
  return await worker.fetch(buildRequest(path, options) as never, { ...env, ROUTER_CONFIG: raw, ...bindings } as never, createExecutionContext());
}

export function admin(path: string, options: Omit<CallOptions, 'key'> = {}) {
  return call(`/admin${path}`, { ...options, key: ADMIN_TOKEN });
}

export async function newKey(extra: Record<string, unknown> = {}): Promise<{ id: string; key: string }> {
  const res = await admin('/keys', { body: { name: 'test', ...extra } });
  if (res.status !== 201) throw new Error(`key creation failed: ${res.status} ${await res.text()}`);
  return res.json();
}

export async function setNode(id: string, knobs: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${CONTROL()}/nodes/${id}`, { method: 'PUT', body: JSON.stringify(knobs) });
  if (!res.ok) throw new Error(`fleet control failed: ${res.status}`);
}

export async function nodeRequests(id: string): Promise<{ path: string; headers: Record<string, string>; body: Record<string, unknown>; raw: string; size: number; sha256: string }[]> {
  return (await fetch(`${CONTROL()}/nodes/${id}/requests`)).json();
}

/** Fleet back to healthy, router isolate state forgotten. */
export async function resetWorld(): Promise<void> {
  await fetch(`${CONTROL()}/reset`, { method: 'POST' });
  resetIsolate();
}

export const chatBody = (extra: Record<string, unknown> = {}) => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Hi' }],
  ...extra,
});

/** Reads an SSE body into its `data:` payloads. */
export async function sseEvents(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split(/\n\n/)
    .map((e) => e.trim())
    .filter(Boolean)
    .map((e) => e.replace(/^data: ?/, ''));
}

/** Work that runs after the response (waitUntil): poll, bounded (2 s), until it shows. */
export async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  let value = await read();
  for (let i = 0; i < 100 && !ok(value); i++) {
    await new Promise((r) => setTimeout(r, 20));
    value = await read();
  }
  return value;
}

/** Alerts the fleet's webhook receiver got, oldest first. */
export async function fleetAlerts(): Promise<{ text: string; node: string; from: string; to: string }[]> {
  return (await fetch(`${CONTROL()}/webhook`)).json();
}

/** A burst's Messages answers: each a 200 or a 429 (anything else fails), the 200s' usages. */
export async function messagesUsages(responses: Response[]): Promise<{ input_tokens: number; output_tokens: number }[]> {
  const usages: { input_tokens: number; output_tokens: number }[] = [];
  for (const res of responses) {
    if (res.status !== 200) {
      expect(res.status).toBe(429);
      await res.text();
      continue;
    }
    usages.push(((await res.json()) as { usage: { input_tokens: number; output_tokens: number } }).usage);
  }
  return usages;
}

/** Wipes each object's storage and alarm: the routing state tests start without (the monitor, colo stats). */
export async function wipeObjects(stubs: DurableObjectStub[]): Promise<void> {
  for (const stub of stubs) {
    await runInDurableObject(stub, async (_: unknown, state: DurableObjectState) => {
      await state.storage.deleteAlarm();
      await state.storage.deleteAll();
    });
  }
}

/**
 * The official OpenAI SDK as a new user configures it — only the base URL and key changed —
 * its `fetch` the Worker's entry point, with a caller location attached as Cloudflare's edge
 * attaches it (Frankfurt unless `cf` says otherwise). The SDK's own retries unless `maxRetries`.
 */
export function openaiClient(key: string, options: { cf?: Record<string, unknown>; maxRetries?: number; baseURL?: string } = {}): OpenAI {
  return new OpenAI({
    baseURL: options.baseURL ?? 'https://router.test/v1',
    apiKey: key,
    ...(options.maxRetries !== undefined ? { maxRetries: options.maxRetries } : {}),
    fetch: (url: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(new Request(url, init), { cf: options.cf ?? CF.fra } as RequestInit),
  });
}

/** A chat stream read through the SDK: its text, every chunk as JSON (to search for what must not leak), and the last usage. */
export async function readChatStream(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>): Promise<{ text: string; raw: string; completion: number }> {
  let text = '';
  let raw = '';
  let completion = 0;
  for await (const chunk of stream) {
    raw += JSON.stringify(chunk);
    text += chunk.choices[0]?.delta.content ?? '';
    completion = chunk.usage?.completion_tokens ?? completion;
  }
  return { text, raw, completion };
}
