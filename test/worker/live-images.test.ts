/**
 * Image generations in the isolate's live view: a JSON image answer's time is judged by what
 * it wrote (the image tokens its usage reports; `imageWork` for a model without usage), as a
 * chat answer's is by its completion tokens — so a node whose images slow down loses the
 * colo's image traffic within a few requests, and one that merely drew larger images keeps it.
 */
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
  expect(after.filter((n) => n === 'n-eu').length).toBeLessThanOrEqual(1);
  expect(after.slice(1).every((n) => n !== 'n-eu')).toBe(true);
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
  expect(after.filter((n) => n === 'n-eu').length).toBeLessThanOrEqual(1);
  expect(after.slice(1).every((n) => n !== 'n-eu')).toBe(true);
});
