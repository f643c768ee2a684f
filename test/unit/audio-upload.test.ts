/**
 * What bounds a token-billed audio request before it runs, pure: an upload's fewest bytes a
 * second by its first bytes (`limits/audio-rate.ts` `uploadBytesPerSecond`) — only a plain WAV
 * or an MP3 by its content has one — and the usage of an audio stream's done event
 * (`forward/audio-usage.ts`), read by its top-level members only.
 */
import { describe, expect, it } from 'vitest';
import { id3End, uploadBytesPerSecond } from '../../src/limits/audio-rate';
import { audioUsageTap, doneUsage } from '../../src/forward/audio-usage';

/** A RIFF/WAVE header whose `fmt ` chunk names `format` at `byteRate` (sample rate 8,000, block align 1); `sub` for WAVE_FORMAT_EXTENSIBLE. */
function wav(format: number, byteRate: number, sub?: number): Uint8Array {
  const size = sub === undefined ? 16 : 40;
  const b = new Uint8Array(12 + 8 + size + 8);
  const v = new DataView(b.buffer);
  b.set(new TextEncoder().encode('RIFF'), 0);
  b.set(new TextEncoder().encode('WAVEfmt '), 8);
  v.setUint32(16, size, true);
  v.setUint16(20, format, true);
  v.setUint16(22, 1, true);
  v.setUint32(24, 8_000, true);
  v.setUint32(28, byteRate, true);
  v.setUint16(32, 1, true);
  v.setUint16(34, 8, true);
  if (sub !== undefined) {
    v.setUint16(36, 22, true);
    v.setUint16(44, sub, true);
  }
  return b;
}

const bytes = (...values: number[]) => new Uint8Array([...values, ...new Array(32).fill(0)]);

describe('uploadBytesPerSecond', () => {
  it('a PCM WAV at its header rate, below the 1,000-byte floor', () => {
    expect(uploadBytesPerSecond(wav(1, 500))).toBe(500);
    expect(uploadBytesPerSecond(wav(1, 16_000))).toBe(1_000);
    expect(uploadBytesPerSecond(wav(0xfffe, 400, 1))).toBe(400);
  });

  it("a PCM WAV's sample rate bounds it too: a decoder reads a sample's bytes from its bits and channels, not the header's byte rate or block align", () => {
    // 200 samples a second of 8-bit mono is 200 bytes a second, whatever the byte rate (16,000) and block align (8) claim.
    const b = wav(1, 16_000);
    const v = new DataView(b.buffer);
    v.setUint32(24, 200, true);
    v.setUint16(32, 8, true);
    expect(uploadBytesPerSecond(b)).toBe(200);
  });

  it('a WAV holding another codec (FLAC, Opus: its frames set how long it plays) has no rate', () => {
    expect(uploadBytesPerSecond(wav(0xf1ac, 1_000))).toBeUndefined();
    expect(uploadBytesPerSecond(wav(0xfffe, 1_000, 0xf1ac))).toBeUndefined();
  });

  it('an MP3 frame at 8 kbit/s; a free or invalid bitrate, a reserved version or ADTS (layer 0) none', () => {
    expect(uploadBytesPerSecond(bytes(0xff, 0xfb, 0x90, 0x64))).toBe(1_000);
    expect(uploadBytesPerSecond(bytes(0xff, 0xfb, 0x00, 0x64))).toBeUndefined(); // free format
    expect(uploadBytesPerSecond(bytes(0xff, 0xfb, 0xf0, 0x64))).toBeUndefined(); // bitrate index 15
    expect(uploadBytesPerSecond(bytes(0xff, 0xeb, 0x90, 0x64))).toBeUndefined(); // version 01, reserved
    expect(uploadBytesPerSecond(bytes(0xff, 0xf1, 0x50, 0x80))).toBeUndefined(); // AAC ADTS
  });

  it('past an ID3 tag, by the frame after it: an MP3 at the floor, a FLAC (which decoders read past the tag) none', () => {
    const head = bytes(0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 0x01, 0x00);
    expect(id3End(head)).toBe(128 + 10);
    expect(uploadBytesPerSecond(head, new Uint8Array([0xff, 0xfb, 0x90, 0x64]))).toBe(1_000);
    expect(uploadBytesPerSecond(head, new TextEncoder().encode('fLaC'))).toBeUndefined();
    expect(uploadBytesPerSecond(head)).toBeUndefined();
  });

  it('FLAC, Ogg and anything else: none', () => {
    for (const magic of ['fLaC', 'OggS', '\x1aE\xdf\xa3', '....ftypM4A ']) expect(uploadBytesPerSecond(bytes(...[...magic].map((c) => c.charCodeAt(0))))).toBeUndefined();
  });
});

describe('the usage of an audio stream', () => {
  const usage = { type: 'tokens', input_tokens: 120, input_token_details: { audio_tokens: 100, text_tokens: 20 }, output_tokens: 30, total_tokens: 150 };

  it('is the done event\'s own usage (transcript.text.done, speech.audio.done), the audio share kept apart', () => {
    expect(doneUsage(`data: ${JSON.stringify({ type: 'transcript.text.done', text: 'hi', usage })}\n\n`)).toMatchObject({ prompt_tokens: 120, completion_tokens: 30, audio_prompt_tokens: 100 });
    expect(doneUsage(`data: ${JSON.stringify({ type: 'speech.audio.done', usage: { input_tokens: 5, output_tokens: 70, total_tokens: 75 } })}\n\n`)).toMatchObject({ prompt_tokens: 5, completion_tokens: 70 });
  });

  it('never text a transcript carries: a delta spelling a done event and its usage is no usage', () => {
    const delta = JSON.stringify({ type: 'transcript.text.done', usage: { input_tokens: 1, output_tokens: 1 } });
    expect(doneUsage(`data: ${JSON.stringify({ type: 'transcript.text.delta', delta })}\n\n`)).toBeUndefined();
    expect(doneUsage(`data: ${JSON.stringify({ type: 'transcript.text.delta', delta: 'x', usage })}\n\n`)).toBeUndefined();
  });

  it('is read across chunks that split the done event', () => {
    const tap = audioUsageTap(1 << 20);
    const text = `data: {"type":"transcript.text.delta","delta":"hi"}\n\ndata: ${JSON.stringify({ type: 'transcript.text.done', text: 'hi', usage })}\n\n`;
    const encoded = new TextEncoder().encode(text);
    for (let at = 0; at < encoded.length; at += 7) tap.take(encoded.subarray(at, at + 7));
    expect(tap.usage()).toMatchObject({ prompt_tokens: 120, completion_tokens: 30 });
  });
});
