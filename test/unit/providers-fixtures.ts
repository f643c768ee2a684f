/** Helpers for the provider tests: replay a recorded-style SSE fixture through a translator. */
import { SseDecoder } from '../../src/providers/sse';
import type { StreamTranslator } from '../../src/providers/types';

/** Feeds `text` to a translator in pieces of `pieceSize` characters (arbitrary network splits). */
export function replay(t: StreamTranslator, text: string, pieceSize = text.length): string[] {
  const decoder = new SseDecoder();
  const frames: string[] = [];
  for (let i = 0; i < text.length; i += pieceSize) for (const ev of decoder.push(text.slice(i, i + pieceSize))) frames.push(...t.push(ev));
  frames.push(...t.end());
  return frames;
}

export interface Frame {
  event?: string;
  data: unknown;
}

/** Frames back into events with parsed JSON data (`[DONE]` kept as the string). */
export function parseFrames(frames: string[]): Frame[] {
  const decoder = new SseDecoder();
  return frames.flatMap((f) => decoder.push(f)).map((e) => ({ ...(e.event !== undefined ? { event: e.event } : {}), data: e.data === '[DONE]' ? '[DONE]' : JSON.parse(e.data) }));
}

export const json = (text: string): unknown => JSON.parse(text);
