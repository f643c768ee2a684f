/**
 * The fewest bytes a second of chat input audio (`input_audio`, WAV or MP3) can take, read
 * from a WAV header: a PCM file at a low sample rate packs more seconds into each byte than
 * the 1,000 bytes a second (MP3's lowest bitrate, 8 kbit/s) the audio rule assumes, and a
 * node bills its seconds. An MP3 is at that floor; a WAV whose format chunk is not among its
 * first bytes, at 1 byte a second; anything else — a WAV of another codec included — has no
 * rate (`audioOfKnownRate`). Also an audio upload's (a transcription's `file`,
 * `uploadBytesPerSecond`), more strictly: only a plain WAV or an MP3 by its content has a rate.
 * Pure; reads only the header's first bytes.
 */

/** MP3's lowest bitrate, 8 kbit/s: the audio rule's floor. */
export const AUDIO_FLOOR_BYTES_PER_SECOND = 1_000;

/** Enough base64 for a RIFF header whose `fmt ` chunk comes first or after a short chunk. */
const HEADER_CHARS = 256;

function decodeHead(data: string): Uint8Array | undefined {
  const comma = data.startsWith('data:') ? data.indexOf(',') + 1 : 0;
  const head = data.slice(comma, comma + HEADER_CHARS);
  try {
    const bin = atob(head.slice(0, head.length - (head.length % 4)));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

const tag = (b: Uint8Array, at: number, text: string) => [...text].every((c, i) => b[at + i] === c.charCodeAt(0));

/**
 * Whether `data` holds audio whose rate the rule knows: a WAV (RIFF/WAVE) or an MP3 (an ID3 tag,
 * or an MPEG audio frame's sync). Anything else — FLAC, Ogg (Opus, Vorbis), … — may pack minutes
 * into a few bytes (lossless silence, Opus DTX), and a node that decodes by content (vLLM's
 * librosa) hears them whatever format the part declares: no bound comes from its size.
 */
export function audioOfKnownRate(data: string): boolean {
  const b = decodeHead(data);
  if (!b || b.length < 12) return false;
  // A WAV of a plain format (PCM, float, A-law, µ-law), or whose format is not in its first bytes (held at 1 byte a
  // second): one holding another codec (FLAC, Opus) plays as long as its frames say, as an upload's (`uploadBytesPerSecond`).
  if (tag(b, 0, 'RIFF') && tag(b, 8, 'WAVE')) return wavBytesPerSecond(b, true) !== undefined || wavBytesPerSecond(b) === 1;
  // An MPEG audio frame (not AAC's ADTS, not a free bitrate), at the start or past an ID3 tag — a FLAC may follow one too.
  const end = id3End(b);
  return tag(b, 0, 'ID3') ? end > 0 && uploadBytesPerSecond(b, decodeAt(data, end)) !== undefined : uploadBytesPerSecond(b) !== undefined;
}

/** The 4 bytes at byte `at` of the audio in `data` (base64, bare or a data URL); undefined if they are not there. */
function decodeAt(data: string, at: number): Uint8Array | undefined {
  const comma = data.startsWith('data:') ? data.indexOf(',') + 1 : 0;
  const start = comma + Math.floor(at / 3) * 4;
  try {
    const bytes = Uint8Array.from(atob(data.slice(start, start + 12)), (c) => c.charCodeAt(0)).subarray(at % 3, (at % 3) + 4);
    return bytes.length === 4 ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Bytes a second of the audio in `data` (base64, bare or a data URL): a WAV's rate — the
 * smallest its `fmt ` chunk states (byte rate, sample rate × block align, the sample rate at a
 * byte a sample), as decoders differ in which they trust — when under the floor, else the floor.
 */
export function audioBytesPerSecond(data: string): number {
  const b = decodeHead(data);
  return (b && wavBytesPerSecond(b)) ?? AUDIO_FLOOR_BYTES_PER_SECOND;
}

/**
 * WAV format tags whose data is as long as its header's rate says: PCM, IEEE float, A-law,
 * µ-law (and WAVE_FORMAT_EXTENSIBLE holding one of them). A WAV may hold any codec (ffmpeg
 * decodes FLAC, Opus, MP3 inside one), whose frames, not the header, set how long it plays.
 */
const PLAIN_WAV_FORMATS: ReadonlySet<number> = new Set([1, 3, 6, 7]);
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/**
 * A WAV's rate by its header (see `audioBytesPerSecond`); undefined when `b` is no WAV, or, with
 * `plain`, when its format is not one `PLAIN_WAV_FORMATS` names.
 */
function wavBytesPerSecond(b: Uint8Array, plain = false): number | undefined {
  if (b.length < 12 || !tag(b, 0, 'RIFF') || !tag(b, 8, 'WAVE')) return undefined;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let at = 12; at + 8 <= b.length; ) {
    const size = view.getUint32(at + 4, true);
    if (tag(b, at, 'fmt ')) {
      if (at + 24 > b.length) break;
      if (plain && !plainFormat(view, at, b.length)) return undefined;
      const sampleRate = view.getUint32(at + 12, true);
      const byteRate = view.getUint32(at + 16, true);
      const blockAlign = view.getUint16(at + 20, true);
      // A zero says nothing of the duration: a decoder would refuse it or fall back on the other.
      // The sample rate alone too: decoders (ffmpeg, libsndfile) size a sample by its bits and
      // channels, not by the byte rate or block align, and no plain format stores less than a
      // byte a sample — so 200 Hz 8-bit mono plays 200 bytes a second whatever those two claim.
      const rates = [byteRate, sampleRate * blockAlign, sampleRate].filter((r) => r > 0);
      return rates.length > 0 ? Math.max(1, Math.min(AUDIO_FLOOR_BYTES_PER_SECOND, ...rates)) : AUDIO_FLOOR_BYTES_PER_SECOND;
    }
    at += 8 + size + (size % 2);
  }
  // A WAV whose format is not in its first bytes (a long chunk before it): its rate is unknown, so the least.
  return plain ? undefined : 1;
}

/** Whether the `fmt ` chunk at `at` names a format `PLAIN_WAV_FORMATS` holds (directly, or as an extensible format's sub-format). */
function plainFormat(view: DataView, at: number, length: number): boolean {
  const format = view.getUint16(at + 8, true);
  if (format !== WAVE_FORMAT_EXTENSIBLE) return PLAIN_WAV_FORMATS.has(format);
  // The sub-format GUID's first two bytes are the format tag (after cbSize, valid bits and the channel mask).
  return at + 34 <= length && PLAIN_WAV_FORMATS.has(view.getUint16(at + 32, true));
}

/** Bytes of an upload's head that `uploadBytesPerSecond` reads (a WAV's `fmt ` chunk after a short chunk). */
export const UPLOAD_HEAD_BYTES = 256;

/**
 * Where an upload's audio starts past an ID3v2 tag (a 10-byte header whose size is four
 * 7-bit bytes, plus a 10-byte footer when flagged): an MP3 often starts with one — and so can
 * a FLAC, which decoders read past the tag by its content. 0 without a tag.
 */
export function id3End(head: Uint8Array): number {
  if (head.length < 10 || !tag(head, 0, 'ID3') || [6, 7, 8, 9].some((i) => head[i]! >= 0x80)) return 0;
  const size = ((head[6]! << 21) | (head[7]! << 14) | (head[8]! << 7) | head[9]!) + 10;
  return size + (head[5]! & 0x10 ? 10 : 0);
}

/**
 * The fewest bytes a second of an upload (a transcription's `file`) can take, by its first
 * bytes (`head`, `UPLOAD_HEAD_BYTES` of them) and, past an ID3 tag, the 4 bytes at `id3End`
 * (`frame`): a WAV of PCM (or float, A-law, µ-law) by its header's rate, with the format in its
 * first bytes; an MPEG audio frame (an MP3), MP3's lowest bitrate —
 * a frame header with a reserved version, layer 0 (AAC's ADTS) or a free or invalid bitrate
 * does not count. Anything else (FLAC, Ogg, WebM, M4A: lossless silence, Opus DTX and AAC's
 * silent frames go below any rate) has no rate its size bounds: undefined. Pure.
 */
export function uploadBytesPerSecond(head: Uint8Array, frame?: Uint8Array): number | undefined {
  if (head.length >= 12 && tag(head, 0, 'RIFF') && tag(head, 8, 'WAVE')) return wavBytesPerSecond(head, true);
  const b = id3End(head) > 0 ? frame : head;
  if (!b || b.length < 4 || b[0] !== 0xff || (b[1]! & 0xe0) !== 0xe0) return undefined;
  const version = (b[1]! >> 3) & 3;
  const layer = (b[1]! >> 1) & 3;
  const bitrate = b[2]! >> 4;
  return version !== 1 && layer !== 0 && bitrate !== 0 && bitrate !== 15 ? AUDIO_FLOOR_BYTES_PER_SECOND : undefined;
}
