/**
 * Image generations and audio uploads in the isolate's live view: a JSON answer's time is
 * judged by what it did — the image tokens its usage reports (`imageWork` for a model without
 * usage), the seconds of audio a transcription billed — as a chat answer's is by its
 * completion tokens. So a node that slows down loses the colo's traffic within a few
 * requests, and one that merely drew larger images or heard longer audio keeps it.
 */
import { exports } from 'cloudflare:workers';
import { beforeEach, expect, it } from 'vitest';
import { callWithConfig, CF, newKey, resetWorld, setNode, testConfig } from './helpers';

let key: string;
beforeEach(async () => {
  await resetWorld();
  key = (await newKey()).key;
});

/** The fleet's OpenAI nodes serve gpt-4o-mini under the name `upstream` (gpt-image-1 reports usage, dall-e-3 none). */
function imageConfig(upstream: string) {
  const config = testConfig();
  for (const node of config.nodes) if (['n-us', 'n-eu', 'n-ap'].includes(node.id)) node.modelMap = { 'gpt-4o-mini': upstream };
  return config;
}

/** Which node drew each image, one request per `qualities` entry, from Frankfurt (nearest: n-eu). */
async function drawnBy(config: object, qualities: string[], size = '1024x1024'): Promise<string[]> {
  const nodes: string[] = [];
  for (const quality of qualities) {
    const res = await callWithConfig(config, '/v1/images/generations', { key, cf: CF.fra, body: { model: 'gpt-4o-mini', prompt: 'a cat', quality, size } });
    expect(res.status, await res.clone().text()).toBe(200);
    await res.text();
    nodes.push(res.headers.get('x-router-node')!);
  }
  return nodes;
}

it('moves JSON image traffic off a node whose images slowed, within a few requests (no cron, no table)', async () => {
  const config = imageConfig('gpt-image-1');
  expect(await drawnBy(config, Array(5).fill('low'))).toEqual(Array(5).fill('n-eu'));
  await setNode('n-eu', { latencyMs: 400 });
  const after = await drawnBy(config, Array(8).fill('low'));
  // One request meets the slowdown; on a loaded machine a noisy baseline can make it take a second.
  expect(after.filter((n) => n === 'n-eu').length).toBeLessThanOrEqual(2);
  expect(after.slice(2).every((n) => n !== 'n-eu')).toBe(true);
});

it('judges image answers by the image tokens they wrote: high quality at the usual speed keeps the traffic, slower drawing loses it', async () => {
  const config = imageConfig('gpt-image-1');
  // high (4,160 tokens) writes ~15× what low (272) writes: no reason to move. (At this speed a
  // high answer takes ~4× a low one's time on loopback, as the chat test's long answers do; a
  // far larger ratio before the slope is learnt reads as a rise: see README "What feeds it".)
  for (const id of ['n-eu', 'n-us', 'n-ap']) await setNode(id, { msPerToken: 0.0144 });
  const mix = ['low', 'low', 'low', 'high', 'low', 'high', 'high', 'low', 'high', 'high'];
  expect(await drawnBy(config, mix)).toEqual(Array(mix.length).fill('n-eu'));
  await setNode('n-eu', { msPerToken: 0.115 }); // drawing 8× slower
  const after = await drawnBy(config, Array(6).fill('high'));
  expect(after.filter((n) => n === 'n-eu').length).toBeLessThanOrEqual(2);
  expect(after.slice(2).every((n) => n !== 'n-eu')).toBe(true);
});

it('a model that reports no usage (dall-e) is judged by what was asked for', async () => {
  const config = imageConfig('dall-e-3');
  expect(await drawnBy(config, Array(4).fill('standard'))).toEqual(Array(4).fill('n-eu'));
  await setNode('n-eu', { latencyMs: 400 });
  const after = await drawnBy(config, Array(8).fill('standard'));
  expect(after.filter((n) => n === 'n-eu').length).toBeLessThanOrEqual(2);
  expect(after.slice(2).every((n) => n !== 'n-eu')).toBe(true);
});

/** Which node transcribed each of `n` uploads from Frankfurt (300 KB each: an upload's bytes are audio, not a prompt to skip). */
async function heardBy(n: number, stream = false, bytes = 300_000): Promise<string[]> {
  const nodes: string[] = [];
  for (let i = 0; i < n; i++) {
    const form = new FormData();
    form.append('model', 'gpt-4o-mini');
    if (stream) form.append('stream', 'true');
    form.append('file', new File([new Uint8Array(bytes).fill(7)], 'call.mp3', { type: 'audio/mpeg' }));
    const req = new Request('https://router.test/v1/audio/transcriptions', { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form, cf: CF.fra } as RequestInit);
    const res = await exports.default.fetch(req);
    expect(res.status, await res.clone().text()).toBe(200);
    await res.text();
    nodes.push(res.headers.get('x-router-node')!);
  }
  return nodes;
}

it('judges transcriptions by the seconds of audio they billed: longer audio at the usual speed keeps the traffic, slower hearing loses it', async () => {
  const all = async (knobs: Record<string, number>) => {
    for (const id of ['n-eu', 'n-us', 'n-ap']) await setNode(id, knobs);
  };
  // 1 ms per second of audio: 10 s of audio take 10 ms, 300 s take 300 ms — read per second, the
  // same speed (taken as raw times, 30× and a rise: the traffic left n-eu).
  await all({ audioSeconds: 10, msPerToken: 1 });
  const heard = await heardBy(3);
  await all({ audioSeconds: 300 });
  heard.push(...(await heardBy(2)));
  await all({ audioSeconds: 10 });
  heard.push(...(await heardBy(1)));
  await all({ audioSeconds: 300 });
  heard.push(...(await heardBy(3)));
  expect(heard).toEqual(Array(9).fill('n-eu'));
  await all({ audioSeconds: 10 });
  // Hearing 40× slower: 400 ms where the others take 10 (past what the farther nodes' distance costs by the geo prior).
  await setNode('n-eu', { msPerToken: 40 });
  const after = await heardBy(6);
  expect(after.filter((n) => n === 'n-eu').length).toBeLessThanOrEqual(2);
  expect(after.slice(2).every((n) => n !== 'n-eu')).toBe(true);
});

it("a streamed upload's first byte, which waits for the whole upload, does not move the colo's audio traffic", async () => {
  // Its time grows with the bytes the caller chose to send (here 1 ms per KB before the headers),
  // and nothing in it says how much audio that was: as a chat prompt past 64 KiB, it only teaches.
  for (const id of ['n-eu', 'n-us', 'n-ap']) await setNode(id, { prefillMsPerKb: 1 });
  const speech = async () => {
    const res = await callWithConfig(testConfig(), '/v1/audio/speech', { key, cf: CF.fra, body: { model: 'gpt-4o-mini', input: 'Hello', voice: 'alloy' } });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    return res.headers.get('x-router-node');
  };
  for (let i = 0; i < 3; i++) expect(await speech()).toBe('n-eu');
  expect(await heardBy(1, true)).toEqual(['n-eu']);
  for (let i = 0; i < 3; i++) expect(await speech()).toBe('n-eu');
});

it('an upload far denser than audio needs (its bytes, not its seconds, take the time) does not move the traffic', async () => {
  // 0.1 ms per KB sent, 0.5 ms per second heard: a minute in 300 KB takes 60 ms. One caller
  // sends 3 MB billed as 1 s (uncompressed audio at a rate no microphone needs): 300 ms a second.
  const all = async (knobs: Record<string, number>) => {
    for (const id of ['n-eu', 'n-us', 'n-ap']) await setNode(id, knobs);
  };
  await all({ audioSeconds: 60, msPerToken: 0.5, prefillMsPerKb: 0.1 });
  expect(await heardBy(3)).toEqual(Array(3).fill('n-eu'));
  await all({ audioSeconds: 1 });
  expect(await heardBy(1, false, 3_000_000)).toEqual(['n-eu']);
  await all({ audioSeconds: 60 });
  expect(await heardBy(3)).toEqual(Array(3).fill('n-eu'));
});
