import { describe, expect, it } from 'vitest';
import { textTokens } from '../../src/limits/estimate';
import { gptImageTokens, imageRequestTokens, imageWork } from '../../src/limits/image-output';

const prompt = textTokens('a cat'); // the bound: its UTF-8 bytes

describe('image generation token bound', () => {
  it('takes the dearest gpt-image entry consistent with size and quality', () => {
    expect(gptImageTokens('1024x1024', 'high')).toBe(4_160);
    expect(gptImageTokens('1024x1024', 'auto')).toBe(4_160);
    expect(gptImageTokens(undefined, 'low')).toBe(408);
    expect(gptImageTokens(undefined, undefined)).toBe(6_240);
  });

  it('bounds a size outside the table at its dearest rate per pixel, and has no figure for a quality outside it', () => {
    // gpt-image-2 draws any WIDTHxHEIGHT: 3840×2160 high is ~7.9× the pixels of 1024², billed in proportion.
    expect(gptImageTokens('3840x2160', 'high')).toBe(Math.ceil((6_240 / (1024 * 1536)) * 3840 * 2160));
    expect(gptImageTokens('3840x2160', 'high')).toBeGreaterThan(6_240 * 5);
    expect(gptImageTokens('512x512', 'low')).toBe(Math.ceil((272 / (1024 * 1024)) * 512 * 512));
    expect(gptImageTokens('3840x2160', undefined)).toBe(gptImageTokens('3840x2160', 'high'));
    // gpt-image-2.5's xhigh and max (and anything else) write more than any figure the router knows.
    expect(gptImageTokens('1024x1024', 'max')).toBeUndefined();
    expect(gptImageTokens(undefined, 'xhigh')).toBeUndefined();
    expect(gptImageTokens('4096x4096', 'hd')).toBeUndefined();
  });

  it('bills a GIF per frame (frame_count, 9 when omitted), and has no bound where a gpt-image model has none', () => {
    const gptImage = [{ names: ['gpt-image-2'] }];
    expect(imageRequestTokens({ prompt: 'a cat', size: '1024x1024', quality: 'low', output_format: 'gif' }, gptImage)).toBe(prompt + 9 * 272);
    expect(imageRequestTokens({ prompt: 'a cat', n: 2, size: '1024x1024', quality: 'low', output_format: 'gif', frame_count: 16 }, gptImage)).toBe(prompt + 2 * 16 * 272);
    // frame_count without a GIF draws one still image.
    expect(imageRequestTokens({ prompt: 'a cat', size: '1024x1024', quality: 'low', frame_count: 16 }, gptImage)).toBe(prompt + 272);
    expect(imageRequestTokens({ prompt: 'a cat', quality: 'max' }, gptImage)).toBeUndefined();
    // The operator's figure is the bound where the table has none; a model billing no tokens needs none.
    expect(imageRequestTokens({ prompt: 'a cat', quality: 'max' }, [{ names: ['gpt-image-2'], configured: 20_000 }])).toBe(prompt + 20_000);
    expect(imageRequestTokens({ prompt: 'a cat', quality: 'max' }, [{ names: ['dall-e-3'] }])).toBe(0);
  });

  it('multiplies by n and adds the prompt and 100 tokens per partial image', () => {
    const gptImage = [{ names: ['gpt-image-1'] }];
    expect(imageRequestTokens({ prompt: 'a cat', n: 3, size: '1024x1024', quality: 'low' }, gptImage)).toBe(prompt + 3 * 272);
    expect(imageRequestTokens({ prompt: 'a cat', size: '1024x1024', quality: 'low', partial_images: 2 }, gptImage)).toBe(prompt + 272 + 200);
    expect(imageRequestTokens({ prompt: 'a cat', size: '1024x1024', quality: 'low' }, gptImage, 'estimate')).toBe(textTokens('a cat', 'estimate') + 272);
  });

  it('reserves nothing for models that bill no tokens, and the configured figure over the table', () => {
    expect(imageRequestTokens({ prompt: 'a cat', n: 2 }, [{ names: ['dall-e-3'] }])).toBe(0);
    expect(imageRequestTokens({ prompt: 'a cat', n: 2 }, [{ names: ['dall-e-3'], configured: 500 }])).toBe(prompt + 1_000);
    // A chain or a node name reaching gpt-image: the dearest model counts.
    expect(imageRequestTokens({ prompt: 'a cat' }, [{ names: ['dall-e-3'] }, { names: ['my-image', 'gpt-image-1'] }])).toBe(prompt + 6_240);
  });
});

describe('image work (what the live view weighs a JSON image answer by when it reports no usage)', () => {
  it('grows with n, pixels and hd/high quality; odd values count as one standard 1024² image', () => {
    expect(imageWork({})).toBe(1_000);
    expect(imageWork({ n: 2, size: '1024x1024' })).toBe(2_000);
    expect(imageWork({ size: '1792x1024', quality: 'hd' })).toBe(3_500);
    expect(imageWork({ size: '256x256' })).toBe(63);
    expect(imageWork({ n: '3', size: 'huge', quality: ['hd'] })).toBe(1_000);
    // A size no model draws counts as the largest any draws: one caller's odd value cannot swamp the fit.
    expect(imageWork({ size: '99999x99999' })).toBe(2_000);
  });
});
