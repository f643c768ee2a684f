/**
 * The fuzz test's cases (`fuzz.test.ts`): a valid body of each POST endpoint of README
 * "API", mutated (`fuzz-mutations.ts`), with the content type and headers it is sent with,
 * and — when a mutation made it so — why README "Errors" says it must be refused.
 */
import { BETAS, CONTENT_TYPES, MODELS, MUTATIONS, TEXT_MUTATIONS, badUtf8 } from './fuzz-mutations';
import { emit, tree, type Rng } from './fuzz-tree';

// ---------------------------------------------------------------- valid bodies, per endpoint

export const userMsg = (content: unknown) => ({ role: 'user', content });
const weatherTool = { name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

const messagesSeeds = [
  { model: 'claude-x', max_tokens: 64, system: 'Be brief.', messages: [userMsg('Hi')] },
  { model: 'gpt-4o-mini', max_tokens: 64, stream: true, messages: [userMsg([{ type: 'text', text: 'Hi' }]), { role: 'assistant', content: 'Hello' }, userMsg('More')] },
  { model: 'claude-x', max_tokens: 2048, thinking: { type: 'enabled', budget_tokens: 1024 }, tools: [weatherTool], messages: [userMsg('Weather in Oslo?')] },
  {
    model: 'gpt-4o-mini',
    max_tokens: 64,
    system: [{ type: 'text', text: 'sys', cache_control: { type: 'ephemeral' } }],
    messages: [userMsg([{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } }, { type: 'text', text: 'What is it?' }])],
  },
  {
    model: 'claude-x',
    max_tokens: 128,
    tools: [weatherTool],
    tool_choice: { type: 'auto' },
    messages: [
      userMsg('Weather?'),
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oslo' } }] },
      userMsg([{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'Sunny' }] }]),
    ],
  },
];

export interface JsonTarget {
  path: string;
  face: 'openai' | 'anthropic';
  seeds: Record<string, unknown>[];
}

export const JSON_TARGETS: JsonTarget[] = [
  {
    path: '/v1/chat/completions',
    face: 'openai',
    seeds: [
      { model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'Be brief.' }, userMsg('Hi')], max_tokens: 16 },
      { model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, n: 2, messages: [userMsg([{ type: 'text', text: 'Look' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png}`, detail: 'low' } }])] },
      { model: 'claude-x', messages: [userMsg('Hi')], max_completion_tokens: 32, tool_choice: 'auto', tools: [{ type: 'function', function: { name: 'get_weather', parameters: weatherTool.input_schema } }] },
      { model: 'mini', messages: [userMsg('Hi')], response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 'string' } } } } } },
    ],
  },
  {
    path: '/v1/completions',
    face: 'openai',
    seeds: [
      { model: 'gpt-4o-mini', prompt: 'Say hi', max_tokens: 8 },
      { model: 'gpt-4o-mini', prompt: ['a', 'b'], n: 2, best_of: 3, echo: true, stream: true, max_tokens: 4 },
      { model: 'gpt-4o-mini', prompt: [[1, 2, 3]], max_tokens: 4, suffix: 'end' },
    ],
  },
  {
    path: '/v1/responses',
    face: 'openai',
    seeds: [
      { model: 'gpt-4o-mini', input: 'Hi', max_output_tokens: 16, store: false },
      { model: 'gpt-4o-mini', instructions: 'Be brief', input: [{ role: 'user', content: [{ type: 'input_text', text: 'Hi' }] }], stream: true },
      { model: 'gpt-4o-mini', input: 'Hi', tools: [{ type: 'function', name: 'f', parameters: { type: 'object', properties: {} } }], text: { format: { type: 'text' } } },
      { model: 'gpt-4o-mini', input: 'Again', previous_response_id: 'resp_abc' },
    ],
  },
  {
    path: '/v1/embeddings',
    face: 'openai',
    seeds: [
      { model: 'text-embedding-3-small', input: 'hello' },
      { model: 'text-embedding-3-small', input: ['a', 'b'], dimensions: 8, encoding_format: 'float' },
      { model: 'text-embedding-3-small', input: [[1, 2], [3]] },
    ],
  },
  {
    path: '/v1/moderations',
    face: 'openai',
    seeds: [
      { model: 'gpt-4o-mini', input: 'x' },
      { model: 'gpt-4o-mini', input: [{ type: 'text', text: 'b' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } }] },
    ],
  },
  {
    path: '/v1/images/generations',
    face: 'openai',
    seeds: [
      { model: 'gpt-4o-mini', prompt: 'a cat', n: 1, size: '1024x1024' },
      { model: 'gpt-4o-mini', prompt: 'a cat', stream: true, partial_images: 1, quality: 'low' },
    ],
  },
  {
    path: '/v1/audio/speech',
    face: 'openai',
    seeds: [
      { model: 'gpt-4o-mini', input: 'Hello', voice: 'alloy' },
      { model: 'gpt-4o-mini', input: 'Hello', voice: 'alloy', instructions: 'Cheerful', response_format: 'mp3', speed: 1.2 },
    ],
  },
  { path: '/v1/messages', face: 'anthropic', seeds: messagesSeeds },
  {
    path: '/v1/messages/count_tokens',
    face: 'anthropic',
    seeds: messagesSeeds.map(({ max_tokens: _cap, stream: _stream, ...rest }: Record<string, unknown>) => rest),
  },
];

export interface Case {
  path: string;
  face: 'openai' | 'anthropic';
  label: string;
  body: Uint8Array;
  contentType: string | null;
  /** More request headers (`anthropic-beta`). */
  headers: Record<string, string>;
  /** Why this body must be refused (a name twice, nesting past 64), when a mutation made it so. */
  mustRefuse: string | null;
}

export const encoder = new TextEncoder();

export function jsonCase(target: JsonTarget, r: Rng): Case {
  const root = tree(structuredClone(r.pick(target.seeds)));
  const labels: string[] = [];
  const names = Object.keys(MUTATIONS);
  // README "Errors": a name twice in one object (case folded) and nesting past 64 levels are
  // 400s wherever they are; a later mutation may undo either, so only the last one counts.
  let mustRefuse: string | null = null;
  for (let i = 0, n = 1 + r.int(3); i < n; i++) {
    const name = r.pick(names);
    const label = MUTATIONS[name]!(root, r);
    if (!label) continue;
    labels.push(label);
    mustRefuse = name === 'duplicate' ? 'a name twice' : name === 'deep' && Number(/ (\d+) deep$/.exec(label)?.[1]) > 64 ? 'nested past 64' : null;
  }
  let text = emit(root);
  if (r.chance(0.3)) {
    const kind = r.pick(Object.keys(TEXT_MUTATIONS));
    const m = TEXT_MUTATIONS[kind]!(text, r);
    text = m.text;
    labels.push(m.label);
    // A stray character or a cut may land in the very name given twice.
    if (!['bom', 'doubleBom', 'trailing'].includes(kind)) mustRefuse = null;
  }
  let body = encoder.encode(text);
  if (r.chance(0.08)) {
    const m = badUtf8(body, r);
    body = m.bytes;
    labels.push(m.label);
    mustRefuse = null;
  }
  let contentType: string | null = 'application/json';
  if (r.chance(0.12)) {
    contentType = r.chance(0.15) ? null : r.pick(CONTENT_TYPES);
    labels.push(`content-type ${JSON.stringify(contentType)}`);
  }
  const headers: Record<string, string> = {};
  if (target.face === 'anthropic' && r.chance(0.15)) {
    headers['anthropic-beta'] = r.pick(BETAS);
    labels.push(`anthropic-beta ${JSON.stringify(headers['anthropic-beta'].slice(0, 40))}`);
  }
  return { path: target.path, face: target.face, label: labels.join('; ') || 'unchanged', body, contentType, headers, mustRefuse };
}

/** A transcription or translation form, written by hand so it can be broken. */
export function formCase(path: string, r: Rng): Case {
  const boundary = r.pick(['fuzzboundary', 'x', '----WebKitFormBoundary7MA4YWxkTrZu0gW', 'a'.repeat(70)]);
  const parts: string[][] = [
    ['model', r.chance(0.8) ? 'gpt-4o-mini' : r.pick(MODELS)],
    ['response_format', 'json'],
    ['temperature', r.pick(['0', '0.5', 'NaN', '-1', '1e400', ''])],
  ];
  const file = ['file', 'AUDIO'.repeat(1 + r.int(200))];
  const labels: string[] = [];
  if (r.chance(0.8)) parts.push(file);
  else labels.push('no file');
  const twice = r.chance(0.15);
  let mustRefuse: string | null = null;
  if (twice) {
    mustRefuse = 'a form field twice';
    const [name] = r.pick(parts);
    parts.push([name!, 'gpt-4o-mini']);
    labels.push(`field ${name} twice`);
  }
  if (r.chance(0.1)) {
    parts[0]![0] = r.pick(['MODEL', 'Model', 'mode\u006c', '']);
    mustRefuse = null;
    labels.push(`model field named ${JSON.stringify(parts[0]![0])}`);
  }
  if (r.chance(0.08)) {
    for (let i = 0; i < 70; i++) parts.push([`timestamp_granularities[]`, 'word']);
    labels.push('70 more parts');
  }
  if (r.chance(0.1)) {
    parts.push(['stream', r.pick(['true', 'TRUE', '1', 'yes'])]);
    labels.push('stream');
  }
  let text = parts
    .map(([name, value]) =>
      name === 'file'
        ? `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.mp3"\r\nContent-Type: audio/mpeg\r\n\r\n${value}\r\n`
        : `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
    )
    .join('') + `--${boundary}--\r\n`;
  let contentType: string | null = `multipart/form-data; boundary=${boundary}`;
  const broken = r.int(10);
  if (broken === 0) {
    text = text.slice(0, r.int(text.length));
    labels.push('truncated');
    mustRefuse = null;
  } else if (broken === 1) {
    contentType = r.pick(['multipart/form-data', 'multipart/form-data; boundary=', 'multipart/form-data; boundary="a\\"b"', `multipart/form-data; boundary=${'b'.repeat(71)}`, 'application/json', 'text/plain', null]);
    labels.push(`content-type ${JSON.stringify(contentType)}`);
  } else if (broken === 2) {
    contentType = 'multipart/form-data; boundary=other';
    labels.push('boundary mismatch');
  } else if (broken === 3) {
    text = `\ufeff${text}garbage`;
    labels.push('BOM and trailing garbage');
  } else if (broken === 4) {
    text = text.replace(/Content-Disposition: form-data; name="model"/, 'Content-Disposition: form-data; name="model"\r\nContent-Disposition: form-data; name="evil"');
    labels.push('two Content-Disposition headers');
  }
  return { path, face: 'openai', label: labels.join('; ') || 'unchanged', body: encoder.encode(text), contentType, headers: {}, mustRefuse };
}
