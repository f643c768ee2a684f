/**
 * A multipart form of more than `MAX_FORM_PARTS` parts is refused before the runtime parses
 * it (`http/form-parts.ts`): 24 MiB of one-byte fields cost 12 s of CPU to parse and write
 * anew. Forms as SDKs send them (a file and a few fields, arrays repeated) pass.
 */
import { exports } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { MAX_FORM_PARTS } from '../../src/http/form-parts';
import { CF, newKey, nodeRequests, resetWorld } from './helpers';

beforeEach(resetWorld);

function upload(key: string, body: BodyInit, headers: Record<string, string> = {}) {
  return exports.default.fetch(
    new Request('https://router.test/v1/audio/transcriptions', { method: 'POST', headers: { authorization: `Bearer ${key}`, ...headers }, body, cf: CF.iad } as RequestInit),
  );
}

function form(extraFields: number): FormData {
  const f = new FormData();
  f.append('model', 'gpt-4o-mini');
  f.append('file', new File([new Uint8Array(5_000).fill(10)], 'meeting.mp3', { type: 'audio/mpeg' }));
  for (const g of ['word', 'segment']) f.append('timestamp_granularities[]', g);
  for (let i = 0; i < extraFields; i++) f.append(`k${i}`, 'v');
  return f;
}

const sent = async () => (await Promise.all(['n-us', 'n-eu', 'n-ap'].map(nodeRequests))).flat().length;

describe('a multipart form with many parts', () => {
  it(`past ${MAX_FORM_PARTS} parts: a 400 invalid_request, and no node sees it`, async () => {
    const { key } = await newKey();
    const res = await upload(key, form(MAX_FORM_PARTS));
    expect(res.status).toBe(400);
    const { error } = await res.json<{ error: { code: string; message: string } }>();
    expect(error).toMatchObject({ code: 'invalid_request' });
    expect(error.message).toContain(`more than ${MAX_FORM_PARTS} parts`);
    expect(await sent()).toBe(0);
  });

  it('delimited by bare LFs (which the runtime accepts): counted all the same', async () => {
    const { key } = await newKey();
    const part = (name: string, value: string) => `--a\nContent-Disposition: form-data; name="${name}"\n\n${value}\n`;
    const fields = Array.from({ length: MAX_FORM_PARTS }, (_, i) => part(`k${i}`, 'v')).join('');
    const body = part('model', 'gpt-4o-mini') + '--a\nContent-Disposition: form-data; name="file"; filename="a.mp3"\nContent-Type: audio/mpeg\n\nRIFF\n' + fields + '--a--\n';
    const res = await upload(key, body, { 'content-type': 'multipart/form-data; boundary=a' });
    expect(res.status).toBe(400);
    expect(await sent()).toBe(0);
  });

  it.each([
    ['a boundary given twice, the first inside another parameter\'s quotes', 'multipart/form-data; x="; boundary=zz"; boundary=a'],
    ['a quoted boundary with an escape (\\a is a to the runtime)', 'multipart/form-data; boundary="\\a"'],
  ])('a Content-Type read another way by the runtime (%s): 200 parts are still refused, and no node sees them', async (_, contentType) => {
    const { key } = await newKey();
    const part = (name: string, value: string) => `--a\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
    const fields = Array.from({ length: 200 }, (_, i) => part(`k${i}`, 'v')).join('');
    const body = part('model', 'gpt-4o-mini') + '--a\r\nContent-Disposition: form-data; name="file"; filename="a.mp3"\r\nContent-Type: audio/mpeg\r\n\r\nRIFF\r\n' + fields + '--a--\r\n';
    const res = await upload(key, body, { 'content-type': contentType });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_request' } });
    expect(await sent()).toBe(0);
  });

  it(`at ${MAX_FORM_PARTS} parts (a file whose bytes are all line feeds among them): served`, async () => {
    const { key } = await newKey();
    const res = await upload(key, form(MAX_FORM_PARTS - 4));
    expect(res.status).toBe(200);
    expect((await res.json<{ text: string }>()).text).toContain('meeting.mp3 (5000 bytes)');
  });
});
