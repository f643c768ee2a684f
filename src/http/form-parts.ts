/**
 * How many parts a caller's multipart form may hold, counted on its bytes before the runtime
 * parses it. The router parses a form and writes it anew (`openai/requests.ts`), at ~27 µs
 * of CPU a part in workerd (measured): 24 MiB of one-byte fields (436k parts) took 12 s of
 * CPU — the isolate serves nothing else meanwhile — and wrote a 37 MiB form, held beside the
 * parsed entries while the request ran. A transcription takes about a dozen fields and one
 * file; `MAX_FORM_PARTS` leaves room for every documented one, repeated arrays included.
 *
 * A part starts at a delimiter line, `--boundary` (RFC 7578 / RFC 2046 §5.1.1), after a line
 * break; workerd takes a bare LF for CRLF, so "\n--boundary" is what is counted (and the
 * body's first line). The closing delimiter (`--boundary--`) counts too, so parts are one fewer.
 */
import { RouterError } from '../errors/router-error';

/** Parts a form may hold. */
export const MAX_FORM_PARTS = 64;

const LF = 10;
const encoder = new TextEncoder();

/** The form's `boundary` parameter, or undefined (the parser then refuses the form itself). */
function boundaryOf(contentType: string): string | undefined {
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return match?.[1] ?? match?.[2];
}

/** Delimiter lines in `bytes` for `boundary`, counted up to `stopAfter`. */
export function delimiterCount(bytes: Uint8Array, boundary: string, stopAfter = Infinity): number {
  const dashed = encoder.encode(`--${boundary}`);
  const at = (i: number) => {
    if (i + dashed.byteLength > bytes.byteLength) return false;
    for (let k = 0; k < dashed.byteLength; k++) if (bytes[i + k] !== dashed[k]) return false;
    return true;
  };
  let count = at(0) ? 1 : 0;
  for (let i = bytes.indexOf(LF); i >= 0 && count <= stopAfter; i = bytes.indexOf(LF, i + 1)) {
    if (at(i + 1)) count++;
  }
  return count;
}

/**
 * Refuses, with a 400, a form of more than `MAX_FORM_PARTS` parts (before it is parsed), and
 * returns the content type the form must be parsed with: `multipart/form-data;
 * boundary="<the boundary counted>"`. The runtime reads a Content-Type by the WHATWG rules
 * (quoted strings with backslash escapes, the first `boundary` winning), which a pattern does
 * not: `boundary="\a"` is `a` to it, and `x="; boundary=b"; boundary=a` is `a` — each counted
 * here as another boundary, so 200 parts passed as none. Parsed with the boundary counted, a
 * form is whatever it is under that boundary, whatever the header's other tricks. A content
 * type that is not multipart is returned as it is (the parser refuses it).
 */
export function checkFormParts(bytes: Uint8Array, contentType: string | undefined): string {
  const type = contentType ?? '';
  // What the parser takes for a form (`openai/requests.ts`) is counted here: no other spelling slips by.
  if (!type.toLowerCase().startsWith('multipart/form-data')) return type;
  const boundary = boundaryOf(type);
  // RFC 2046 §5.1.1: a boundary is 1-70 of bchars — never a quote or a backslash.
  if (boundary === undefined || boundary.length > 70 || /["\\]/.test(boundary)) {
    throw new RouterError(400, 'The form\'s Content-Type needs a boundary parameter of 1 to 70 characters (RFC 2046).', { code: 'invalid_request' });
  }
  if (delimiterCount(bytes, boundary, MAX_FORM_PARTS + 1) - 1 > MAX_FORM_PARTS) {
    throw new RouterError(400, `The form has more than ${MAX_FORM_PARTS} parts; a transcription takes a file and a few fields.`, { code: 'invalid_request' });
  }
  return `multipart/form-data; boundary="${boundary}"`;
}
