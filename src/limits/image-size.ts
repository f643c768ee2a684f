/**
 * Image dimensions from the first bytes of a base64 data URL — PNG, GIF, JPEG and WebP
 * headers — so an image's token cost can follow OpenAI's tile rule instead of its byte size.
 * Only the head of the payload is decoded (JPEG's size marker may sit after EXIF data, so
 * up to `HEAD_CHARS` of base64); anything unreadable is `undefined` (the caller assumes the
 * worst case).
 */
const HEAD_CHARS = 64 * 1024;

function decodeHead(url: string): Uint8Array | undefined {
  const comma = url.indexOf(',');
  if (!url.startsWith('data:') || comma < 0 || !url.slice(0, comma).includes(';base64')) return undefined;
  const take = Math.min(url.length - comma - 1, HEAD_CHARS) & ~3;
  try {
    const bin = atob(url.slice(comma + 1, comma + 1 + take));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
}

const be16 = (b: Uint8Array, i: number) => (b[i]! << 8) | b[i + 1]!;
const le16 = (b: Uint8Array, i: number) => b[i]! | (b[i + 1]! << 8);
const be32 = (b: Uint8Array, i: number) => ((b[i]! << 24) >>> 0) + (b[i + 1]! << 16) + (b[i + 2]! << 8) + b[i + 3]!;
const ascii = (b: Uint8Array, i: number, n: number) => String.fromCharCode(...b.subarray(i, i + n));

function jpegSize(b: Uint8Array): { width: number; height: number } | undefined {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1]!;
    if (marker === 0xff) {
      i++;
      continue;
    }
    // SOF0–SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not.
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { height: be16(b, i + 5), width: be16(b, i + 7) };
    }
    i += 2 + be16(b, i + 2);
  }
  return undefined;
}

export function imageSize(url: string): { width: number; height: number } | undefined {
  const b = decodeHead(url);
  if (!b || b.length < 30) return undefined;
  if (b[0] === 0x89 && ascii(b, 1, 3) === 'PNG') return { width: be32(b, 16), height: be32(b, 20) };
  if (ascii(b, 0, 4) === 'GIF8') return { width: le16(b, 6), height: le16(b, 8) };
  if (b[0] === 0xff && b[1] === 0xd8) return jpegSize(b);
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP') {
    const kind = ascii(b, 12, 4);
    if (kind === 'VP8 ') return { width: le16(b, 26) & 0x3fff, height: le16(b, 28) & 0x3fff };
    if (kind === 'VP8L') {
      const bits = b[21]! | (b[22]! << 8) | (b[23]! << 16) | (b[24]! << 24);
      return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    if (kind === 'VP8X') return { width: 1 + (b[24]! | (b[25]! << 8) | (b[26]! << 16)), height: 1 + (b[27]! | (b[28]! << 8) | (b[29]! << 16)) };
  }
  return undefined;
}
