/**
 * A simulated Amazon Bedrock runtime node, strict enough to reject a wrong request:
 *
 * - every request must carry a valid SigV4 signature (`sigv4.ts`, an independent verifier)
 *   for the node's region (`cloudRegion`, default `us-east-1`) and service `bedrock`, made
 *   with `FLEET_AWS_KEYS` — or the Bedrock API key `FLEET_BEDROCK_API_KEY` as a Bearer;
 * - `POST /model/{id}/converse` and `/converse-stream` (Converse JSON; strict body: known
 *   top-level keys only, `inferenceConfig.maxTokens` required, `additionalModelRequestFields`
 *   only as the model knows them, Claude's thinking held to its rules: `bedrock-thinking.ts`);
 *   the stream is AWS's binary event stream (frames encoded by hand, `cloud-answers.ts`).
 *   A thinking answer opens with a reasoning block (reasoning text and signature deltas when
 *   streaming) counted in `outputTokens`; with `toolConfig` and no tool result yet, the node
 *   calls the first tool (`toolUse`, stop reason `tool_use`);
 * - `POST /model/{id}/invoke` and `/invoke-with-response-stream` for Claude's Messages body
 *   (`anthropic_version: "bedrock-2023-05-31"`, no `model`, no `stream`); stream chunks carry
 *   base64 Anthropic events;
 * - `GET /foundation-models/{id}` (the control plane's GetFoundationModel: the probe);
 * - errors as Bedrock sends them: status, `x-amzn-ErrorType`, `{"message"}`. Knobs: `status`
 *   (429 → ThrottlingException unless `awsErrorType` names another), `streamException`,
 *   `clockOffsetMs`, `cacheReadTokens`/`cacheWriteTokens`, and the stream knobs.
 */
import type http from 'node:http';
import { cacheUsage, cloudMessagesError, eventFrame, exceptionFrame, messagesAnswer, messagesEvents, encodeFrame } from './cloud-answers.ts';
import { completionTokens, sendJson, sleep, type SimNode } from './shared.ts';
import { converseInputTokens } from './tokens.ts';
import { verifySigV4, type AwsKey } from './sigv4.ts';
import { additionalFieldsError, SIGNATURE, THINKING_TOKENS, THOUGHT, thinks } from './bedrock-thinking.ts';

export const FLEET_AWS_KEYS: AwsKey[] = [
  { accessKeyId: 'AKIAFLEETEXAMPLE0001', secretAccessKey: 'fleet/secret/K7MDENG+bPxRfiCYEXAMPLEKEY' },
  { accessKeyId: 'ASIAFLEETEXAMPLE0002', secretAccessKey: 'fleet/temporary/secret/EXAMPLE', sessionToken: 'fleet-session-token-EXAMPLE//+=' },
];
export const FLEET_BEDROCK_API_KEY = 'ABSKZmxlZXQtYmVkcm9jay1hcGkta2V5';

const STATUS_NAME: Record<number, string> = { 400: 'ValidationException', 403: 'AccessDeniedException', 404: 'ResourceNotFoundException', 408: 'ModelTimeoutException', 424: 'ModelErrorException', 429: 'ThrottlingException', 500: 'InternalServerException', 503: 'ServiceUnavailableException' };

export function sendAwsError(res: http.ServerResponse, status: number, name: string, message: string) {
  sendJson(res, status, { message }, { 'x-amzn-errortype': `${name}:http://internal.amazon.com/coral/com.amazon.bedrock/` });
}

const TOP_LEVEL = new Set(['messages', 'system', 'inferenceConfig', 'toolConfig', 'guardrailConfig', 'additionalModelRequestFields', 'additionalModelResponseFieldPaths', 'promptVariables', 'requestMetadata', 'performanceConfig']);

function converseError(body: Record<string, unknown>): string | undefined {
  for (const key of Object.keys(body)) if (!TOP_LEVEL.has(key)) return `extraneous key [${key}] is not permitted`;
  const cfg = body.inferenceConfig as { maxTokens?: unknown } | undefined;
  if (!cfg || !Number.isInteger(cfg.maxTokens) || (cfg.maxTokens as number) < 1) return 'inferenceConfig.maxTokens: required positive integer (the router always sets its cap)';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: required non-empty array';
  for (const [i, m] of (body.messages as { role?: unknown; content?: unknown }[]).entries()) {
    if (m.role !== 'user' && m.role !== 'assistant') return `messages.${i}.role must be user or assistant`;
    if (!Array.isArray(m.content)) return `messages.${i}.content must be an array of content blocks`;
    for (const b of m.content as Record<string, unknown>[]) if (Object.keys(b).length !== 1) return `messages.${i}.content: each block has exactly one member`;
  }
  if ((body.messages as { role: string }[])[0]!.role !== 'user') return 'A conversation must start with a user message.';
  return undefined;
}

/** The tool the node calls: the first of `toolConfig`, unless the last turn already holds tool results. */
function toolToCall(body: Record<string, unknown>): string | undefined {
  const tools = (body.toolConfig as { tools?: { toolSpec?: { name?: unknown } }[] } | undefined)?.tools;
  const name = tools?.[0]?.toolSpec?.name;
  if (typeof name !== 'string') return undefined;
  const last = (body.messages as { content: Record<string, unknown>[] }[]).at(-1)!;
  return last.content.some((b) => 'toolResult' in b) ? undefined : name;
}

export async function handleBedrock(node: SimNode, req: http.IncomingMessage, res: http.ServerResponse, bytes: Buffer): Promise<void> {
  const k = node.knobs;
  const now = Date.now() + (k.clockOffsetMs ?? 0);
  const region = k.cloudRegion ?? 'us-east-1';
  if (req.headers.authorization !== `Bearer ${FLEET_BEDROCK_API_KEY}`) {
    const v = verifySigV4(req, bytes, { region, service: 'bedrock', keys: FLEET_AWS_KEYS, nowMs: now });
    if (!v.ok) return sendAwsError(res, 403, v.name, v.message);
  }
  if (k.status > 0 && (k.failFirst === 0 || node.served <= k.failFirst)) {
    const name = k.awsErrorType ?? STATUS_NAME[k.status] ?? 'InternalServerException';
    return sendAwsError(res, k.status, name, k.errorMessage ?? `simulated ${name} from ${node.id}`);
  }
  const path = (req.url ?? '').split('?')[0]!;
  const probe = /^\/foundation-models\/([^/]+)$/.exec(path);
  if (req.method === 'GET' && probe) {
    const modelId = decodeURIComponent(probe[1]!);
    return sendJson(res, 200, { modelDetails: { modelId, modelArn: `arn:aws:bedrock:${region}::foundation-model/${modelId}`, providerName: 'Anthropic', responseStreamingSupported: true } });
  }
  const op = /^\/model\/([^/]+)\/(converse|converse-stream|invoke|invoke-with-response-stream)$/.exec(path);
  if (req.method !== 'POST' || !op) return sendAwsError(res, 404, 'UnknownOperationException', `no operation ${req.method} ${path}`);
  const modelId = decodeURIComponent(op[1]!);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    return sendAwsError(res, 400, 'SerializationException', 'body is not JSON');
  }
  if (op[2] === 'converse' || op[2] === 'converse-stream') {
    const err = converseError(body) ?? additionalFieldsError(body, modelId);
    if (err) return sendAwsError(res, 400, 'ValidationException', err);
    const maxTokens = (body.inferenceConfig as { maxTokens: number }).maxTokens;
    const thinking = thinks(body);
    // Reasoning counts in outputTokens, never past maxTokens.
    const output = Math.min(completionTokens(k, { max_tokens: maxTokens }) + (thinking ? THINKING_TOKENS : 0), maxTokens);
    const tool = toolToCall(body);
    const cache = cacheUsage(k);
    const inputTokens = converseInputTokens(body);
    const usage = {
      inputTokens,
      outputTokens: output,
      totalTokens: inputTokens + output + cache.cache_read_input_tokens + cache.cache_creation_input_tokens,
      cacheReadInputTokens: cache.cache_read_input_tokens,
      cacheWriteInputTokens: cache.cache_creation_input_tokens,
    };
    const stopReason = tool ? 'tool_use' : 'end_turn';
    const toolUse = tool ? { toolUseId: `tooluse_${node.id}_${node.served}`, name: tool } : undefined;
    if (op[2] === 'converse') {
      const answer = toolUse ? { toolUse: { ...toolUse, input: { city: 'Paris' } } } : { text: `Hello from ${node.id}` };
      const content = thinking ? [{ reasoningContent: { reasoningText: { text: THOUGHT.join(''), signature: SIGNATURE } } }, answer] : [answer];
      return sendJson(res, 200, { output: { message: { role: 'assistant', content } }, stopReason, usage, metrics: { latencyMs: 1 } });
    }
    const frames: Buffer[] = [eventFrame('messageStart', { role: 'assistant' })];
    // The answer's block follows the reasoning block when there is one.
    const index = thinking ? 1 : 0;
    if (thinking) {
      for (const text of THOUGHT) frames.push(eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { text } } }));
      frames.push(eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { signature: SIGNATURE } } }), eventFrame('contentBlockStop', { contentBlockIndex: 0 }));
    }
    const before = frames.length;
    if (toolUse) {
      frames.push(eventFrame('contentBlockStart', { contentBlockIndex: index, start: { toolUse } }));
      for (const input of ['{"city": ', '"Paris"}']) frames.push(eventFrame('contentBlockDelta', { contentBlockIndex: index, delta: { toolUse: { input } } }));
    } else {
      for (let i = 0; i < k.chunks; i++) frames.push(eventFrame('contentBlockDelta', { contentBlockIndex: index, delta: { text: i === 0 ? `Hello from ${node.id}` : ` #${i}` } }));
    }
    frames.push(eventFrame('contentBlockStop', { contentBlockIndex: index }), eventFrame('messageStop', { stopReason }), eventFrame('metadata', { usage, metrics: { latencyMs: 1 } }));
    return streamFrames(node, res, frames, before);
  }
  const err = cloudMessagesError(body, 'bedrock-2023-05-31', false, modelId);
  if (err) return sendAwsError(res, 400, 'ValidationException', err);
  if (op[2] === 'invoke') return sendJson(res, 200, messagesAnswer(node, body, modelId));
  const events = messagesEvents(node, body, modelId);
  const frames = events.map((ev) => encodeFrame({ ':message-type': 'event', ':event-type': 'chunk', ':content-type': 'application/json' }, JSON.stringify({ bytes: Buffer.from(JSON.stringify(ev)).toString('base64') })));
  return streamFrames(node, res, frames, 2);
}

/** Writes frames one by one with the stream knobs; `first` = frames before the first text chunk. */
async function streamFrames(node: SimNode, res: http.ServerResponse, frames: Buffer[], first: number) {
  const k = node.knobs;
  res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-bedrock-content-type': 'application/json' });
  // Knob `streamExceptionFirst`: the 200 stream's first frame is this exception (nothing generated yet).
  const first0 = (k as typeof k & { streamExceptionFirst?: string }).streamExceptionFirst;
  if (first0) {
    res.end(exceptionFrame(first0, `simulated ${first0} from ${node.id}`));
    return;
  }
  for (const [i, f] of frames.entries()) {
    const chunk = i - first; // index of the text chunk this frame carries (negative: before them)
    if (chunk >= 0 && chunk === k.cutAfterChunks) {
      res.socket?.destroy();
      return;
    }
    if (chunk >= 0 && chunk === k.stallAfterChunks) return;
    if (chunk === 1 && k.streamException) {
      res.end(exceptionFrame(k.streamException, `simulated ${k.streamException} from ${node.id}`));
      return;
    }
    res.write(f);
    if (chunk >= 0 && k.chunkDelayMs > 0) await sleep(k.chunkDelayMs);
  }
  res.end();
}
