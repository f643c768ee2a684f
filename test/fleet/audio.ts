/**
 * The simulated fleet's audio endpoints: speech (binary, streamed in chunks; gpt-4o-mini-tts's
 * `stream_format: "sse"` events with their usage) and transcriptions/translations (multipart:
 * whisper billing seconds, gpt-4o-transcribe and its kin tokens, in the JSON answer or the
 * stream's `transcript.text.done`). The stream knobs apply.
 */
import type http from 'node:http';
import { invalid, writeEvents } from './endpoints.ts';
import { sendJson, sleep, type SimNode } from './shared.ts';
import { pieces as splitText } from './structured.ts';
import { bpeTokens } from './tokens.ts';

type Body = Record<string, unknown>;

/**
 * Speech. gpt-4o-mini-tts (a TTS model not named tts-1) bills tokens: its text in (`input` and
 * `instructions`), the audio it speaks out (knob `completionTokens`, else 25 a chunk). With
 * `stream_format: "sse"` the audio comes as `speech.audio.delta` events and the usage in the
 * closing `speech.audio.done`, as OpenAI streams it; otherwise binary, chunk by chunk, no usage.
 */
export async function speech(node: SimNode, res: http.ServerResponse, body: Body) {
  const k = node.knobs;
  if (body.stream_format === 'sse' && /tts/.test(String(body.model)) && !/^tts-1/.test(String(body.model))) {
    const input = bpeTokens(body.input) + bpeTokens(body.instructions);
    const output = k.completionTokens > 0 ? k.completionTokens : 25 * k.chunks;
    const deltas = Array.from({ length: k.chunks }, (_, i) => `data: ${JSON.stringify({ type: 'speech.audio.delta', audio: Buffer.from(`ID3-${node.id}-chunk-${i};`).toString('base64') })}\n\n`);
    const usage = { input_tokens: input, output_tokens: output, total_tokens: input + output };
    await writeEvents(node, res, [...deltas, `data: ${JSON.stringify({ type: 'speech.audio.done', usage })}\n\n`], new Set(deltas.map((_, i) => i)));
    return;
  }
  res.writeHead(200, { 'content-type': 'audio/mpeg' });
  for (let i = 0; i < k.chunks; i++) {
    if (i === k.cutAfterChunks) return res.socket?.destroy();
    if (i === k.stallAfterChunks) return;
    res.write(Buffer.from(`ID3-${node.id}-chunk-${i};`));
    if (k.chunkDelayMs > 0) await sleep(k.chunkDelayMs);
  }
  res.end();
}

/**
 * Transcription models billed in tokens as OpenAI bills gpt-4o-transcribe and its kin
 * (gpt-4o-mini-transcribe, gpt-4o-transcribe-diarize, gpt-transcribe): `usage: {type: "tokens",
 * input_tokens, input_token_details: {audio_tokens, text_tokens}, output_tokens, total_tokens}`,
 * in the JSON answer and in the stream's `transcript.text.done` event. Whisper bills seconds.
 */
const TOKEN_TRANSCRIBERS = /transcribe/;
/** Audio input tokens a second heard (OpenAI publishes no rate for gpt-4o-transcribe; its Realtime audio bills about 10 a second). */
const AUDIO_TOKENS_PER_SECOND = 10;
/** gpt-4o-transcribe's context window and most output: audio too long for one block is refused, as OpenAI refuses it. */
const TRANSCRIBE_CONTEXT = 16_000;
const TRANSCRIBE_MAX_OUTPUT = 2_000;
/** Seconds of audio in one chunk when the caller asks for `chunking_strategy` (each chunk is its own pass). */
const CHUNK_SECONDS = 30;

export async function transcription(node: SimNode, req: http.IncomingMessage, res: http.ServerResponse, bytes: Buffer, translate: boolean) {
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { 'content-type': String(req.headers['content-type']) } }).formData();
  } catch {
    return invalid(res, 400, 'could not parse multipart body', null, null);
  }
  const file = form.get('file');
  if (!(file instanceof File)) return invalid(res, 400, "'file' is required", 'file', null);
  const verb = translate ? 'translated' : 'transcribed';
  const model = String(form.get('model'));
  const text = `${verb} ${file.name} (${file.size} bytes) with ${model} on ${node.id}`;
  // Knob `audioSeconds`: the seconds the node hears (whisper bills them, reported as `usage`; absent: no usage, as older answers).
  const seconds = (node.knobs as { audioSeconds?: number }).audioSeconds;
  if (TOKEN_TRANSCRIBERS.test(model)) return tokenTranscription(node, res, form, text, seconds ?? file.size / 4_000);
  const usage = seconds === undefined ? {} : { usage: { type: 'duration', seconds } };
  // Like the other JSON answers: `msPerToken` per unit of work its usage reports (here per second of audio), before the headers.
  if (seconds !== undefined && node.knobs.msPerToken > 0) await sleep(seconds * node.knobs.msPerToken);
  return sendJson(res, 200, { text, ...usage });
}

/**
 * A token-billed transcription of `seconds` of audio: its audio tokens and the text of the
 * form's fields (`prompt`, and every other text field a prompt is built of) in, the transcript's
 * tokens out (knob `completionTokens`, else the text's), at most `TRANSCRIBE_MAX_OUTPUT` a pass.
 * As one block (no `chunking_strategy`) input and output fit the context window, or the audio
 * is refused; chunked, each `CHUNK_SECONDS` is a pass of its own, the prompt read and the output written again.
 */
async function tokenTranscription(node: SimNode, res: http.ServerResponse, form: FormData, text: string, seconds: number) {
  const k = node.knobs;
  const audio = Math.ceil(seconds * AUDIO_TOKENS_PER_SECOND);
  let prompt = 0;
  for (const [name, value] of form) if (typeof value === 'string' && name !== 'model' && name !== 'stream' && name !== 'response_format' && name !== 'chunking_strategy') prompt += bpeTokens(value);
  const passes = form.get('chunking_strategy') == null ? 1 : Math.max(1, Math.ceil(seconds / CHUNK_SECONDS));
  const perPass = Math.min(TRANSCRIBE_MAX_OUTPUT, k.completionTokens > 0 ? k.completionTokens : bpeTokens(text));
  if (passes === 1 && audio + prompt + perPass > TRANSCRIBE_CONTEXT) {
    return invalid(res, 400, `Audio is too long for this model: ${audio} audio tokens and ${prompt} prompt tokens do not fit its context.`, 'file', 'audio_too_long');
  }
  const input = audio + passes * prompt;
  const output = passes * perPass;
  const usage = { type: 'tokens', input_tokens: input, input_token_details: { audio_tokens: audio, text_tokens: passes * prompt }, output_tokens: output, total_tokens: input + output };
  if (k.msPerToken > 0) await sleep(output * k.msPerToken);
  if (form.get('stream') !== 'true') return sendJson(res, 200, { text, usage });
  // OpenAI's stream: `transcript.text.delta` events, then `transcript.text.done` with the text and the usage (no `[DONE]`).
  const deltas = splitText(text, Math.max(1, k.chunks)).map((delta) => `data: ${JSON.stringify({ type: 'transcript.text.delta', delta })}\n\n`);
  const events = [...deltas, `data: ${JSON.stringify({ type: 'transcript.text.done', text, usage })}\n\n`];
  await writeEvents(node, res, events, new Set(deltas.map((_, i) => i)));
}
