import { describe, expect, it } from 'vitest';
import { estimatePrompt, estimatePromptTokens, IMAGE_LOW_TOKENS, IMAGE_MAX_TOKENS, imageTileTokens, responsesPrompt, SPECIAL_TOKENS_PER_INPUT as SPECIAL, textTokens, utf8Bytes } from '../../src/limits/estimate';
import { imageRuleFor, ruleImageTokens } from '../../src/limits/image-rules';
import { imageSize } from '../../src/limits/image-size';

const messages = (content: unknown) => ({ messages: [{ role: 'user', content }] });
const est = (body: Record<string, unknown>) => estimatePromptTokens(body, imageSize);
const messagesOf = (pairs: [string, string][]) => ({ messages: pairs.map(([role, content]) => ({ role, content })) });

/** A PNG header (signature + IHDR) of the given size, then filler: a 400 KB "image". */
function pngDataUrl(width: number, height: number, bytes = 400_000): string {
  const b = new Uint8Array(bytes);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  new DataView(b.buffer).setUint32(16, width);
  new DataView(b.buffer).setUint32(20, height);
  return `data:image/png;base64,${Buffer.from(b).toString('base64')}`;
}

describe('text: the bound (default), its UTF-8 bytes', () => {
  it('ASCII 1 byte, U+0080–07FF 2, the rest of the BMP 3, astral 4', () => {
    expect(textTokens('abcdefgh')).toBe(8);
    expect(textTokens('éß')).toBe(4);
    expect(textTokens('東京都の天気は晴れです')).toBe(33);
    expect(textTokens('😀')).toBe(4);
  });

  it('dense digit/punctuation runs (about a token a character in cl100k) are never undercounted', () => {
    expect(textTokens('1,'.repeat(500))).toBe(1_000);
  });

  it('equals the encoded length for any string, lone surrogates (sent as U+FFFD) included', () => {
    const samples = ['', 'a\u0000b', '\u07ff\u0800\uffff', '\ud83d\ude00x', '\ud800', 'x\udc00', '\udc00\ud800', 'naïve 東京 😀 1,1,1'];
    let seed = 7;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
    for (let i = 0; i < 200; i++) samples.push(String.fromCharCode(...Array.from({ length: 1 + (next() % 12) }, () => next() % 0x10000)));
    for (const text of samples) expect(utf8Bytes(text), JSON.stringify(text)).toBe(new TextEncoder().encode(text).byteLength);
  });
});

describe('text: the estimate (limits.promptTokens "estimate")', () => {
  it('counts ASCII at 4 characters a token', () => expect(textTokens('abcdefgh', 'estimate')).toBe(2));
  it('does not undercount CJK: a token per character', () => expect(textTokens('東京都の天気は晴れです', 'estimate')).toBe(11));
  it('counts an emoji (a surrogate pair) as two', () => expect(textTokens('😀', 'estimate')).toBe(2));
  it('is no bound: a dense run is a quarter of its bytes', () => expect(textTokens('1,'.repeat(500), 'estimate')).toBe(250));
  it('reaches every string of a body, like the bound', () => {
    const body = { messages: [{ role: 'user', content: 'abcdefgh' }], tools: [{ type: 'function', name: 'f' }] };
    const tools = JSON.stringify(body.tools);
    expect(estimatePromptTokens(body, imageSize, undefined, 'estimate')).toBe(4 + 3 + Math.ceil(tools.length / 4) + 1 + 2);
    expect(estimatePromptTokens(body, imageSize)).toBe(4 + 3 + tools.length + 4 + 8);
  });
});

describe('images', () => {
  it('follows the tile rule: 1024×1024 high detail is 765 tokens (OpenAI\'s worked example)', () => {
    expect(imageTileTokens(1024, 1024)).toBe(765);
    expect(imageTileTokens(2048, 4096)).toBe(1105);
  });

  it('counts a 400 KB base64 image by its size, not its bytes', () => {
    const tokens = est(messages([{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: pngDataUrl(1024, 1024) } }]));
    expect(tokens).toBeGreaterThanOrEqual(765);
    expect(tokens).toBeLessThan(800);
  });

  it('low detail is 85 tokens; an unreadable or remote image costs the rule\'s maximum', () => {
    expect(est(messages([{ type: 'image_url', image_url: { url: pngDataUrl(4000, 4000), detail: 'low' } }]))).toBe(4 + 3 + IMAGE_LOW_TOKENS + textTokens('user'));
    expect(est(messages([{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }]))).toBeGreaterThanOrEqual(IMAGE_MAX_TOKENS);
  });

  it('reads GIF and JPEG headers too', () => {
    const gif = Buffer.from([0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x00, 0x02, 0x00, 0x02, ...new Array(40).fill(0)]);
    expect(imageSize(`data:image/gif;base64,${gif.toString('base64')}`)).toEqual({ width: 512, height: 512 });
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0, 0, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x01, 0x00, 0x02, 0x00, ...new Array(40).fill(0)]);
    expect(imageSize(`data:image/jpeg;base64,${jpeg.toString('base64')}`)).toEqual({ width: 512, height: 256 });
  });
});

describe('tools and function calls', () => {
  const weather = { type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };

  it('counts tool schemas', () => {
    const without = est(messages('hi'));
    const withTools = est({ ...messages('hi'), tools: [weather] });
    expect(withTools - without).toBe(textTokens(JSON.stringify([weather])));
  });

  it('counts an Anthropic tool_use block as its JSON: the input\'s keys and numbers are text upstream', () => {
    const input = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`${i},${i}`, 1_000_000 + i]));
    const block = { type: 'tool_use', id: 't1', name: 'f', input };
    const body = { messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: [block] }] };
    expect(est(body)).toBe(est(messagesOf([['user', 'x'], ['assistant', '']])) + textTokens(JSON.stringify(block)));
    expect(est(body)).toBeGreaterThan(est(messagesOf([['user', 'x'], ['assistant', '']])) + textTokens(JSON.stringify(input)));
  });

  it('an Anthropic image block counts its image, never its base64, and still any other text it carries', () => {
    const image = (extra: object) => ({ messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'url', url: 'https://example.com/a.png' }, ...extra }] }] });
    const dense = '1,'.repeat(500);
    expect(est(image({ text: dense }))).toBe(est(image({})) + textTokens(dense));
  });

  it('counts function-call arguments in assistant messages', () => {
    const args = JSON.stringify({ city: 'x'.repeat(400) });
    const body = { messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: args } }] }] };
    expect(est(body)).toBeGreaterThan(100);
  });
});

describe('embeddings', () => {
  it('counts text inputs and token-array inputs, each input with its special tokens', () => {
    expect(est({ input: 'abcdefgh' })).toBe(8 + SPECIAL);
    expect(est({ input: ['abcd', 'efgh'] })).toBe(8 + 2 * SPECIAL);
    expect(est({ input: [1, 2, 3] })).toBe(3 + SPECIAL); // one input of token ids
    expect(est({ input: [[1, 2, 3], [4, 5]] })).toBe(5 + 2 * SPECIAL);
  });

  it('many one-byte inputs reserve what a BOS/EOS (or [CLS]/[SEP]) tokenizer bills: 3 each, not 1', () => {
    expect(SPECIAL).toBe(2);
    expect(est({ input: Array.from({ length: 2_048 }, () => 'a') })).toBe(2_048 * 3);
    expect(est({ input: ['', ''] })).toBe(2 * SPECIAL); // an empty input still bills its markers
    expect(est({ input: [[], [7]] })).toBe(2 * SPECIAL + 1);
  });

  it('promptTokens "estimate" adds no special tokens (a guess at OpenAI\'s figure, which bills none)', () => {
    const heuristic = (body: Record<string, unknown>) => estimatePromptTokens(body, imageSize, undefined, 'estimate');
    expect(heuristic({ input: ['abcd', 'efgh'] })).toBe(2);
    expect(heuristic({ input: [[1, 2, 3], [4, 5]] })).toBe(5);
    expect(heuristic({ prompt: 'abcdefgh' })).toBe(2);
  });
});

describe('Responses, read as chat (responsesPrompt)', () => {
  it('a string input is a user message, instructions a system message, each framed, the reply primed', () => {
    expect(est(responsesPrompt({ input: 'a' }))).toBe(4 + textTokens('user') + 1 + 3);
    expect(est(responsesPrompt({ instructions: 'b', input: 'a' }))).toBe(est(messagesOf([['system', 'b'], ['user', 'a']])));
  });

  it('input items stay items, framed like messages; the reply is primed without instructions too', () => {
    const input = [{ role: 'user', content: 'a' }];
    expect(est(responsesPrompt({ input }))).toBe(4 + textTokens('user') + 1 + 3);
  });
});

describe('images at the model\'s own rate', () => {
  const image = (url: string, detail?: string) => messages([{ type: 'image_url', image_url: { url, ...(detail ? { detail } : {}) } }]);
  const rule = (model: string) => [imageRuleFor(model)];

  it('gpt-4o-mini bills a tile at 5,667 and the base at 2,833: 33× gpt-4o', () => {
    expect(estimatePromptTokens(image(pngDataUrl(1024, 1024, 2_000)), imageSize, rule('gpt-4o-mini-2024-07-18'))).toBe(7 + 2_833 + 4 * 5_667 + textTokens('user'));
    expect(estimatePromptTokens(image(pngDataUrl(1024, 1024, 2_000), 'low'), imageSize, rule('gpt-4o-mini'))).toBe(7 + 2_833 + textTokens('user'));
  });

  it('patch models count 32-px patches × their multiplier, capped, whatever the detail', () => {
    expect(ruleImageTokens(imageRuleFor('gpt-4.1-mini'), { width: 1024, height: 1024 }, true)).toBe(Math.ceil(1_024 * 1.62));
    expect(ruleImageTokens(imageRuleFor('gpt-4.1-nano'), { width: 4000, height: 4000 }, false)).toBe(Math.ceil(1_536 * 2.46));
    expect(ruleImageTokens(imageRuleFor('o4-mini'), undefined, false)).toBe(Math.ceil(1_536 * 1.72));
  });

  it('Gemini: 258 a 768-px tile after a 3072-px fit, never below Gemini 3\'s fixed 2,240, whatever the detail', () => {
    for (const name of ['gemini-2.5-flash', 'google/gemini-2.0-flash-001', 'google/gemini-3-pro-preview']) {
      const r = imageRuleFor(name);
      expect(ruleImageTokens(r, { width: 100, height: 100 }, true)).toBe(2_240);
      expect(ruleImageTokens(r, { width: 3072, height: 3072 }, false)).toBe(16 * 258);
      expect(ruleImageTokens(r, { width: 12_288, height: 768 }, false)).toBe(2_240); // fit 3072×192: 4 tiles, below Gemini 3's figure
      expect(ruleImageTokens(r, { width: 8_000, height: 6_000 }, false)).toBe(12 * 258); // fit 3072×2304: 4×3 tiles
      expect(ruleImageTokens(r, undefined, false)).toBe(16 * 258);
    }
  });

  it('an unknown model gets gpt-4o\'s rule; a configured rule wins over the name', () => {
    expect(imageRuleFor('llama-3-vision')).toEqual({ base: 85, tile: 170 });
    expect(imageRuleFor('gpt-4o-mini', { base: 1, tile: 2 })).toEqual({ base: 1, tile: 2 });
  });

  it('over several models (a fallback chain), the dearest', () => {
    const tokens = estimatePromptTokens(image('https://example.com/x.png'), imageSize, [imageRuleFor('gpt-4o'), imageRuleFor('gpt-4o-mini')]);
    expect(tokens).toBe(7 + 2_833 + 8 * 5_667 + textTokens('user'));
  });
});

describe('parts no body bounds', () => {
  it('a file part, by id, URL or inline, makes the estimate unbounded', () => {
    for (const part of [{ type: 'file', file: { file_id: 'file-1' } }, { type: 'input_file', file_url: 'https://x/y.pdf' }, { type: 'file', file: { file_data: 'data:application/pdf;base64,AAAA' } }]) {
      expect(estimatePrompt(messages([part]), imageSize).unbounded).toBe(true);
    }
    expect(estimatePrompt(messages('hi'), imageSize).unbounded).toBe(false);
  });

  it('so does media that is not an image sent as one (Gemini reads an image_url by its MIME type); images, remote URLs and their detail do not', () => {
    const unbounded = (part: unknown) => estimatePrompt(messages([part]), imageSize).unbounded;
    for (const url of ['data:application/pdf;base64,JVBERi0=', 'data:video/mp4;base64,AAAA', 'DATA:Audio/Wav;base64,AAAA', 'data:;base64,AAAA']) {
      expect(unbounded({ type: 'image_url', image_url: { url } })).toBe(true);
      expect(unbounded({ type: 'input_image', image_url: url })).toBe(true);
    }
    expect(unbounded({ type: 'image', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } })).toBe(true);
    for (const url of ['data:image/png;base64,AAAA', 'data:IMAGE/jpeg;base64,AAAA', 'https://example.com/x.pdf']) expect(unbounded({ type: 'image_url', image_url: { url, detail: 'low' } })).toBe(false);
    expect(unbounded({ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } })).toBe(false);
  });

  it('and a Gemini context cache named in the body, where Google\'s OpenAI-compatible endpoints and proxies in front of Gemini take it', () => {
    const unbounded = (extra: Record<string, unknown>) => estimatePrompt({ messages: [{ role: 'user', content: 'x' }], ...extra }, imageSize).unbounded;
    const name = 'projects/p/locations/us-central1/cachedContents/1';
    for (const extra of [{ extra_body: { google: { cached_content: name } } }, { extra_body: { cached_content: name } }, { google: { cached_content: name } }, { cached_content: name }, { extra_body: { google: { cachedContent: name } } }, { extraBody: { google: { cachedContent: name } } }, { extra_body: { google: {} }, extraBody: { google: { cached_content: name } } }])
      expect(unbounded(extra)).toBe(true);
    for (const extra of [{ extra_body: { google: { thinking_config: { thinking_budget: 0 } } } }, { extra_body: { google: { cached_content: null } } }, { cached_content: null }]) expect(unbounded(extra)).toBe(false);
  });

  it('so do hosted tools, a stored conversation, a prompt template and an earlier audio answer by id; function tools do not', () => {
    const unbounded = (body: Record<string, unknown>) => estimatePrompt(body, imageSize).unbounded;
    expect(unbounded({ input: 'x', tools: [{ type: 'web_search' }] })).toBe(true);
    expect(unbounded({ input: 'x', tools: [{ type: 'file_search', vector_store_ids: ['vs_1'] }] })).toBe(true);
    expect(unbounded({ input: 'x', conversation: 'conv_1' })).toBe(true);
    expect(unbounded({ input: [{ type: 'item_reference', id: 'msg_1' }] })).toBe(true);
    expect(unbounded({ messages: [{ role: 'user', content: 'x' }], web_search_options: {} })).toBe(true);
    expect(unbounded({ prompt: { id: 'pmpt_1', variables: {} } })).toBe(true);
    expect(unbounded({ messages: [{ role: 'assistant', audio: { id: 'audio_1' } }] })).toBe(true);
    expect(unbounded({ input: 'x', tools: [{ type: 'function', name: 'f' }, { type: 'custom', name: 'g' }] })).toBe(false);
    expect(unbounded({ messages: [{ role: 'user', content: 'x' }], tools: [{ name: 'h', input_schema: { type: 'object' } }] })).toBe(false); // Anthropic's custom tool: no type
  });

  it('audio at 32 tokens a second (Gemini\'s rate), 8 kbit/s MP3 at 1,000 bytes a second', () => {
    const data = Buffer.alloc(31_998).toString('base64');
    expect(est(messages([{ type: 'input_audio', input_audio: { data, format: 'mp3' } }]))).toBe(4 + textTokens('user') + 1_024 + 3);
  });

  /** A WAV of `bytes` in all: a RIFF header (an optional chunk before `fmt `), PCM at `rate` Hz, `bits` a sample, mono. */
  function wav(bytes: number, rate: number, bits: number, before = 0): string {
    const b = Buffer.alloc(bytes);
    b.write('RIFF', 0);
    b.write('WAVE', 8);
    let at = 12;
    if (before > 0) {
      b.write('LIST', at);
      b.writeUInt32LE(before, at + 4);
      at += 8 + before;
    }
    b.write('fmt ', at);
    b.writeUInt32LE(16, at + 4);
    b.writeUInt16LE(1, at + 8);
    b.writeUInt16LE(1, at + 10);
    b.writeUInt32LE(rate, at + 12);
    b.writeUInt32LE((rate * bits) / 8, at + 16);
    b.writeUInt16LE(bits / 8, at + 20);
    b.writeUInt16LE(bits, at + 22);
    return b.toString('base64');
  }
  const audio = (data: string) => est(messages([{ type: 'input_audio', input_audio: { data, format: 'wav' } }])) - (4 + textTokens('user') + 3);

  it('a WAV slower than 1,000 bytes a second: its seconds at 32 tokens each, read from its header', () => {
    // 16 kHz 16-bit: 32,000 bytes a second, faster than the floor: its seconds at the floor, 31.998 × 32.
    expect(audio(wav(31_998, 16_000, 16))).toBe(1_024);
    // 100 Hz 8-bit: 100 bytes a second, 31,998 bytes are 320 s — ten times what the floor would say.
    expect(audio(wav(31_998, 100, 8))).toBe(10_240);
    // A data URL is read the same way.
    expect(audio(`data:audio/wav;base64,${wav(31_998, 100, 8)}`)).toBe(10_240);
  });

  it('audio neither a WAV nor an MP3 (FLAC, Ogg Opus: lossless silence, DTX) holds the context window, whatever its format says', () => {
    const part = (data: string, format: string) => ({ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data, format } }] }] });
    const flac = Buffer.concat([Buffer.from('fLaC'), Buffer.alloc(3_000)]).toString('base64');
    const ogg = Buffer.concat([Buffer.from('OggS'), Buffer.alloc(3_000)]).toString('base64');
    const adts = Buffer.concat([Buffer.from([0xff, 0xf1, 0x50, 0x80]), Buffer.alloc(3_000)]).toString('base64'); // AAC
    // A node that decodes by content (vLLM: librosa) hears minutes in these few bytes; the declared format is only a label.
    for (const data of [flac, ogg, adts]) for (const format of ['mp3', 'wav', 'flac']) expect(estimatePrompt(part(data, format), imageSize).unbounded).toBe(true);
    const mp3 = Buffer.concat([Buffer.from([0xff, 0xfb, 0x90, 0x64]), Buffer.alloc(3_000)]).toString('base64');
    // An ID3 tag (here 300 bytes: past the first bytes read) before an MPEG frame.
    const tagged = (after: Buffer) => Buffer.concat([Buffer.from('ID3'), Buffer.from([4, 0, 0, 0, 0, 2, 0x2c - 10]), Buffer.alloc(290), after, Buffer.alloc(3_000)]).toString('base64');
    const id3 = tagged(Buffer.from([0xff, 0xfb, 0x90, 0x64]));
    for (const data of [mp3, id3, wav(3_000, 16_000, 16), `data:audio/mpeg;base64,${mp3}`]) expect(estimatePrompt(part(data, 'mp3'), imageSize).unbounded).toBe(false);
  });

  it('a WAV of another codec (FLAC, Opus frames: they, not the header, say how long it plays), or a FLAC behind an ID3 tag, holds the context window', () => {
    const part = (data: string) => ({ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data, format: 'wav' } }] }] });
    const flacWav = Buffer.from(wav(3_000, 16_000, 16), 'base64');
    flacWav.writeUInt16LE(0xf1ac, 20);
    expect(estimatePrompt(part(flacWav.toString('base64')), imageSize).unbounded).toBe(true);
    const id3Flac = Buffer.concat([Buffer.from('ID3'), Buffer.from([4, 0, 0, 0, 0, 0, 0]), Buffer.from('fLaC'), Buffer.alloc(3_000)]).toString('base64');
    expect(estimatePrompt(part(id3Flac), imageSize).unbounded).toBe(true);
  });

  it('a WAV whose format chunk is not in its first bytes is held at 1 byte a second; data that is not a WAV at the floor', () => {
    expect(audio(wav(31_998, 16_000, 16, 4_000))).toBe(1_023_936);
    expect(audio(Buffer.alloc(3_198, 7).toString('base64'))).toBe(103);
  });
});

describe('legacy prompts', () => {
  it('counts every prompt of an array, text or token ids', () => {
    expect(est({ prompt: ['abcd', 'abcd', 'abcd'] })).toBe(3 * (textTokens('abcd') + SPECIAL));
    expect(est({ prompt: [[1, 2, 3], [4, 5]] })).toBe(5 + 2 * SPECIAL);
    expect(est({ prompt: [1, 2, 3] })).toBe(3 + SPECIAL);
    expect(est({ prompt: 'abcd' })).toBe(textTokens('abcd') + SPECIAL);
  });

  it('counts a suffix once per prompt, and Responses\' text.format schema', () => {
    expect(est({ prompt: ['abcd', 'abcd'], suffix: 'abcdefgh' })).toBe(2 * (textTokens('abcd') + SPECIAL) + 2 * textTokens('abcdefgh'));
    const format = { format: { type: 'json_schema', name: 'x', schema: { type: 'object', properties: { a: { type: 'string' } } } } };
    expect(est({ input: 'abcd', text: format })).toBe(textTokens('abcd') + SPECIAL + textTokens(JSON.stringify(format)));
  });
});
