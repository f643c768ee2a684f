/**
 * `POST /v1/images/edits` against keys with limits (README "API", "Token estimates", "Spend
 * budgets"): gpt-image models bill every image an edit sends (and its mask) as input tokens,
 * by size and `input_fidelity` — bounded by `models.<id>.imageInputTokens`, refused to keys
 * with limits without it — beside the output the generation rules bound. The form is read
 * strictly (counts and flags as OpenAI types them) and sent as read.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { admin, callWithConfig, eventually, newKey, nodeRequests, resetWorld, testConfig } from './helpers';

beforeEach(resetWorld);

const MINI_NODES = ['n-us', 'n-eu', 'n-ap'];
/** What the fleet bills one image sent at high input fidelity (`EDIT_IMAGE_TOKENS.high`). */
const EDIT_HIGH = 3_050;
type ImageUsage = { input_tokens: number; output_tokens: number; total_tokens: number; input_tokens_details: { image_tokens: number } };

function editConfig(options: { image?: string; imageInputTokens?: number; price?: Record<string, unknown> } = {}) {
  const config = testConfig();
  for (const node of config.nodes) if (MINI_NODES.includes(node.id)) node.modelMap = { 'gpt-4o-mini': options.image ?? 'gpt-image-2' };
  if (options.imageInputTokens !== undefined) config.models['gpt-4o-mini'].imageInputTokens = options.imageInputTokens;
  if (options.price) config.models['gpt-4o-mini'].price = options.price;
  return config;
}

const png = (name: string) => new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3])], name, { type: 'image/png' });

function editForm(fields: Record<string, string>, images = 1, mask = false): FormData {
  const form = new FormData();
  form.set('model', 'gpt-4o-mini');
  form.set('prompt', 'a hat');
  for (const [name, value] of Object.entries(fields)) form.set(name, value);
  for (let i = 0; i < images; i++) form.append(images > 1 ? 'image[]' : 'image', png(`${i}.png`));
  if (mask) form.set('mask', png('mask.png'));
  return form;
}

const edit = (config: object, key: string, form: FormData) => callWithConfig(config, '/v1/images/edits', { key, body: form });
const sent = async () => (await Promise.all(MINI_NODES.map(nodeRequests))).flat().filter((r) => r.path === '/v1/images/edits').length;

describe('image edits: tpm bounds what the node bills for the images it reads and writes', () => {
  it('with imageInputTokens, three images and a mask at high fidelity: held at 4 × the figure + the output, and a burst bills within tpm', async () => {
    const config = editConfig({ imageInputTokens: 3_500 });
    const { key } = await newKey({ limits: { tpm: 40_000 } });
    const form = () => editForm({ size: '1024x1024', quality: 'medium', input_fidelity: 'high' }, 3, true);
    const responses = await Promise.all(Array.from({ length: 5 }, () => edit(config, key, form())));
    expect(responses.every((r) => r.status === 200 || r.status === 429)).toBe(true);
    const served = responses.filter((r) => r.status === 200);
    // Each holds 4 × 3,500 + 1,056 + the prompt (~15,061): two fit in 40,000, a third does not.
    expect(served).toHaveLength(2);
    const usages = await Promise.all(served.map(async (r) => (await r.json<{ usage: ImageUsage }>()).usage));
    await Promise.all(responses.filter((r) => r.status !== 200).map((r) => r.text()));
    expect(usages[0]!.input_tokens_details.image_tokens).toBe(4 * 3_050); // the fleet billed every image, the mask too
    expect(usages.reduce((sum, u) => sum + u.total_tokens, 0)).toBeLessThanOrEqual(40_000);
  });

  it('a markup image (GPT Image 2.5: a PNG overlaid on the first image) is read and billed like the mask: held too, at least what the node bills', async () => {
    const config = editConfig({ imageInputTokens: EDIT_HIGH });
    const form = () => {
      const f = editForm({ size: '1024x1024', quality: 'medium', input_fidelity: 'high' }, 3);
      f.set('markup', png('markup.png'));
      return f;
    };
    // What the node bills (a key without limits): the three images and the markup.
    const billed = await edit(config, (await newKey()).key, form());
    expect(billed.status).toBe(200);
    const usage = (await billed.json<{ usage: ImageUsage }>()).usage;
    expect(usage.input_tokens_details.image_tokens).toBe(4 * EDIT_HIGH);
    // What the router holds for it (a key whose tpm it exceeds says so): before, 3 × 3,050 + the output, 3,050 short.
    const { key } = await newKey({ limits: { tpm: 1 } });
    const held = await edit(config, key, form());
    expect(held.status).toBe(429);
    const requested = Number(/Requested (\d+)\./.exec((await held.json<{ error: { message: string } }>()).error.message)?.[1]);
    expect(requested).toBeGreaterThanOrEqual(usage.total_tokens);
  });

  it('a markup that is not a file is a 400 (param markup), nothing sent', async () => {
    const { key } = await newKey({ limits: { tpm: 100_000 } });
    const form = editForm({ size: '1024x1024', quality: 'low', markup: 'overlay.png' });
    const res = await edit(editConfig({ imageInputTokens: EDIT_HIGH }), key, form);
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { param: string } }>()).error.param).toBe('markup');
    expect(await sent()).toBe(0);
  });

  it('without imageInputTokens a gpt-image edit is refused to a tpm key (403 tokens_unbounded, param image), nothing sent; served to a key without limits', async () => {
    const config = editConfig();
    const { key } = await newKey({ limits: { tpm: 1_000_000 } });
    const res = await edit(config, key, editForm({ size: '1024x1024', quality: 'low' }));
    expect(res.status).toBe(403);
    const { error } = await res.json<{ error: { code: string; param: string; message: string } }>();
    expect(error).toMatchObject({ code: 'tokens_unbounded', param: 'image' });
    expect(error.message).toContain('imageInputTokens');
    expect(await sent()).toBe(0);
    const free = await newKey();
    const ok = await edit(config, free.key, editForm({ size: '1024x1024', quality: 'low' }));
    expect(ok.status).toBe(200);
    expect((await ok.json<{ usage: ImageUsage }>()).usage.input_tokens_details.image_tokens).toBe(135);
  });

  it('a model that bills no tokens (dall-e-2) needs no figure: served to a tpm key', async () => {
    const { key } = await newKey({ limits: { tpm: 1_000 } });
    const res = await edit(editConfig({ image: 'dall-e-2' }), key, editForm({ size: '512x512' }));
    expect(res.status).toBe(200);
    await res.text();
  });
});

describe('image edits under a spend budget', () => {
  it('on a model priced by tokens: held at the images read (imageInputTokens) and written, settled at the usage billed', async () => {
    const price = { input: 10, output: 40 };
    const config = editConfig({ imageInputTokens: 3_500, price });
    const { key, id } = await newKey({ limits: { dailyUsd: 1 } });
    const res = await edit(config, key, editForm({ size: '1024x1024', quality: 'high', input_fidelity: 'high' }, 2));
    expect(res.status).toBe(200);
    const { usage } = await res.json<{ usage: ImageUsage }>();
    const billed = (usage.input_tokens * price.input + usage.output_tokens * price.output) / 1e6;
    const { spend } = await eventually(
      () => admin(`/keys/${id}/usage`).then((r) => r.json<{ spend: { dayUsd: number; heldUsd: number } }>()),
      (u) => u.spend.heldUsd === 0 && u.spend.dayUsd > 0,
    );
    expect(spend.dayUsd).toBeCloseTo(billed, 9);
    // Without the figure the images read have no bound: refused.
    const unbounded = await edit(editConfig({ price }), key, editForm({ size: '1024x1024', quality: 'high' }));
    expect(unbounded.status).toBe(403);
    expect((await unbounded.json<{ error: { code: string; param: string } }>()).error).toMatchObject({ code: 'cost_unbounded', param: 'image' });
  });

  it('image input tokens at their own rate (imageInput: gpt-image bills them above text input), settled from input_tokens_details.image_tokens', async () => {
    const price = { input: 5, imageInput: 10, output: 40 };
    const config = editConfig({ imageInputTokens: 3_500, price });
    const { key, id } = await newKey({ limits: { dailyUsd: 1 } });
    const res = await edit(config, key, editForm({ size: '1024x1024', quality: 'high', input_fidelity: 'high' }, 2));
    expect(res.status, await res.clone().text()).toBe(200);
    const { usage } = await res.json<{ usage: ImageUsage }>();
    const images = usage.input_tokens_details.image_tokens;
    expect(images).toBe(2 * EDIT_HIGH);
    const billed = ((usage.input_tokens - images) * price.input + images * price.imageInput + usage.output_tokens * price.output) / 1e6;
    const { spend } = await eventually(
      () => admin(`/keys/${id}/usage`).then((r) => r.json<{ spend: { dayUsd: number; heldUsd: number } }>()),
      (u) => u.spend.heldUsd === 0 && u.spend.dayUsd > 0,
    );
    expect(spend.dayUsd).toBeCloseTo(billed, 9);
  });

  it('under a per-image price: n × the price, and a size the table does not name is refused', async () => {
    const config = editConfig({ price: { perImage: { '1024x1024': 0.2 } } });
    const { key } = await newKey({ limits: { dailyUsd: 0.5 } });
    const three = await edit(config, key, editForm({ size: '1024x1024', n: '3' })); // $0.60
    expect(three.status, await three.clone().text()).toBe(429);
    await three.text();
    const big = await edit(config, key, editForm({ size: '2048x2048' }));
    expect(big.status).toBe(403);
    expect((await big.json<{ error: { param: string } }>()).error.param).toBe('size');
    expect(await sent()).toBe(0);
    expect((await edit(config, key, editForm({ size: '1024x1024', n: '2' }))).status).toBe(200);
  });
});

describe('the form, read strictly', () => {
  it('refuses counts and flags a lax node would read differently, two spellings of the images, too many images, and a missing prompt — nothing sent', async () => {
    const { key } = await newKey();
    const config = editConfig();
    const cases: [FormData, string][] = [
      [editForm({ n: '11' }), 'n'],
      [editForm({ n: ' 2' }), 'n'],
      [editForm({ n: '2.0' }), 'n'],
      [editForm({ partial_images: '4' }), 'partial_images'],
      [editForm({ stream: '1' }), 'stream'],
      [editForm({ stream: 'True' }), 'stream'],
      [editForm({ size: 'big' }), 'size'],
      [editForm({}, 17), 'image'],
    ];
    const both = editForm({});
    both.append('image[]', png('b.png'));
    cases.push([both, 'image']);
    const noPrompt = editForm({});
    noPrompt.delete('prompt');
    cases.push([noPrompt, 'prompt']);
    const noImage = editForm({}, 0);
    cases.push([noImage, 'image']);
    // A count sent as a file part: not a field the router reads, but one a lax node may.
    const fileCount = editForm({});
    fileCount.set('n', new File(['10'], 'n.txt', { type: 'text/plain' }));
    cases.push([fileCount, 'n']);
    for (const [form, param] of cases) {
      const res = await edit(config, key, form);
      expect(res.status, param).toBe(400);
      expect((await res.json<{ error: { param: string } }>()).error.param, param).toBe(param);
    }
    const json = await callWithConfig(config, '/v1/images/edits', { key, body: { model: 'gpt-4o-mini', prompt: 'a hat' } });
    expect(json.status).toBe(400);
    await json.text();
    expect(await sent()).toBe(0);
  });
});
