/**
 * Image generation streams (`stream: true`, `partial_images`): OpenAI sends typed events —
 * `image_generation.partial_image` previews, then `image_generation.completed` with the image
 * and its usage — and no `[DONE]`. The router relays them whole, as complete, and settles the
 * usage the completed event reports.
 */
import { beforeEach, expect, it } from 'vitest';
import { admin, callWithConfig, eventually, newKey, resetWorld, setNode, testConfig } from './helpers';

beforeEach(resetWorld);

/** The fleet's nodes serve gpt-4o-mini under gpt-image-1's name (billed in tokens). */
function gptImageConfig() {
  const config = testConfig();
  for (const node of config.nodes) if (['n-us', 'n-eu', 'n-ap'].includes(node.id)) node.modelMap = { 'gpt-4o-mini': 'gpt-image-1' };
  return config;
}

it('relays an image stream that ends after image_generation.completed as complete, and settles its usage', async () => {
  const { key, id } = await newKey({ limits: { tpm: 100_000 } });
  const body = { model: 'gpt-4o-mini', prompt: 'a cat', quality: 'low', stream: true, partial_images: 2 };
  const res = await callWithConfig(gptImageConfig(), '/v1/images/generations', { key, body });
  expect(res.status).toBe(200);
  const text = await res.text();
  const types = [...text.matchAll(/^data: (.+)$/gm)].map((m) => (JSON.parse(m[1]!) as { type?: string; error?: unknown }).type ?? 'error');
  expect(types).toEqual(['image_generation.partial_image', 'image_generation.partial_image', 'image_generation.completed']);
  // Settled at the completed event's usage (272 output tokens for a low-quality image, + the prompt), not held at the reservation.
  const report = await eventually(
    async () => (await admin(`/keys/${id}/usage`)).json<{ window: { tokens: number }; inFlight: number }>(),
    (u) => u.inFlight === 0,
  );
  expect(report.window.tokens).toBeLessThan(300);
});

it('a stream that ends before its image is still an error at its end (upstream_stream_truncated)', async () => {
  const { key } = await newKey();
  for (const id of ['n-us', 'n-eu', 'n-ap']) await setNode(id, { endAfterChunks: 1 });
  const body = { model: 'gpt-4o-mini', prompt: 'a cat', stream: true, partial_images: 2 };
  const res = await callWithConfig(gptImageConfig(), '/v1/images/generations', { key, body });
  expect(res.status).toBe(200);
  const text = await res.text();
  expect(text).toContain('image_generation.partial_image');
  expect(text).not.toContain('image_generation.completed');
  expect(text).toContain('upstream_stream_truncated');
});
