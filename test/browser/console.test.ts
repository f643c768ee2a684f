/**
 * The operator console in a real browser: `npm run dev` (wrangler dev on the simulated
 * fleet), some traffic and a cron run, then Chromium (headless, driven by puppeteer-core;
 * the binary ships inside the `@sparticuz/chromium` devDependency, unpacked to /tmp on
 * first use, so `npm install` is all the test needs) opens /admin/, is given the admin token once, and must render the
 * nodes, the heatmap, the keys and the charts with that traffic's figures — on a wide
 * screen and on a phone. Screenshots go to test-output/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import chromium from '@sparticuz/chromium';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const PORT = 8797;
const BASE = `http://127.0.0.1:${PORT}`;
const ADMIN_TOKEN = 'dev-admin-token'; // scripts/dev.ts
const OUT = 'test-output';

let dev: ChildProcess;
let browser: Browser;
let apiKey: string;
let keyId: string;

const admin = (path: string, init: RequestInit = {}) =>
  fetch(`${BASE}/admin/${path}`, { ...init, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', ...init.headers } });

/** Polls `ok` until it holds; a thrown error ends the wait at once. */
async function until(ok: () => Promise<boolean>, ms: number, what: string) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  let output = '';
  const state = mkdtempSync(join(tmpdir(), 'console-test-'));
  dev = spawn('node', ['scripts/dev.ts'], { env: { ...process.env, PORT: String(PORT), DEV_PERSIST_TO: state }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  dev.stdout!.on('data', (d) => (output += d));
  dev.stderr!.on('data', (d) => (output += d));
  await until(
    async () => {
      if (dev.exitCode !== null) throw new Error(`npm run dev exited (${dev.exitCode}); ports 8700-8704 and ${PORT} must be free:\n${output}`);
      return output.includes('dev API key');
    },
    120_000,
    'npm run dev to start',
  );

  const created = (await (await admin('keys', { method: 'POST', body: JSON.stringify({ name: 'console-test', limits: { rpm: 1000, dailyUsd: 5 } }) })).json()) as {
    key: string;
    id: string;
  };
  apiKey = created.key;
  keyId = created.id;
  const chat = (body: object) =>
    fetch(`${BASE}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello there' }], ...body }),
    }).then((r) => r.text());
  for (let i = 0; i < 6; i++) await chat(i % 2 ? { stream: true } : {});
  await chat({ model: 'no-such-model' }); // an error
  // Publish tables from the samples: the cron publishes a colo once its samples have reached
  // its ColoStats (batched by the isolate), so run it until DFW's table is out.
  await until(
    async () => {
      await chat({});
      await fetch(`${BASE}/__scheduled?cron=*+*+*+*+*`);
      return ((await (await admin('tables')).json()) as { colos: unknown[] }).colos.length > 0;
    },
    60_000,
    'a published table',
  );
  // One node fails its probes until it is marked down: the console lists the transitions.
  await fetch('http://127.0.0.1:8700/nodes/sim-us-west', { method: 'PUT', body: JSON.stringify({ status: 503 }) });
  await until(
    async () => {
      await fetch(`${BASE}/__scheduled?cron=*+*+*+*+*`);
      const status = (await (await admin('status')).json()) as { nodes: { id: string; state: string }[] };
      return status.nodes.find((n) => n.id === 'sim-us-west')?.state === 'down';
    },
    60_000,
    'sim-us-west to be marked down',
  );
  // CHROMIUM_PATH picks another Chromium (e.g. a desktop one to watch); by default the
  // packaged one, with the flags it is built for (no sandbox, software GL).
  const executablePath = process.env.CHROMIUM_PATH ?? (await chromium.executablePath());
  // A fixed UI language: under LANG=C the packaged build reports `en-US@posix`, a tag Intl
  // (and so uPlot's number formats) refuses.
  const args = [...(process.env.CHROMIUM_PATH ? ['--no-sandbox', '--disable-gpu'] : chromium.args), '--lang=en-US'];
  browser = await puppeteer.launch({ executablePath, headless: process.env.CHROMIUM_PATH ? true : 'shell', args, env: { ...process.env, LANG: 'en_US.UTF-8' } });
  mkdirSync(OUT, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (dev?.pid && dev.exitCode === null) process.kill(-dev.pid, 'SIGTERM');
});

async function openConsole(viewport: { width: number; height: number; isMobile?: boolean }): Promise<Page> {
  const page = await browser.newPage();
  page.on('pageerror', (err) => console.error(`console page error: ${err}`));
  await page.setViewport({ ...viewport, deviceScaleFactor: 1 });
  await page.goto(`${BASE}/admin/`, { waitUntil: 'load' });
  await page.waitForSelector('#token', { visible: true });
  await page.type('#token', ADMIN_TOKEN);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('body[data-loaded="true"]', { timeout: 30_000 });
  return page;
}

describe('the console', () => {
  it('asks for the token once, then shows nodes, heatmap, keys and charts from real traffic (wide screen)', async () => {
    const page = await openConsole({ width: 1400, height: 1000 });
    const nodes = await page.$$eval('#nodes tbody tr', (rows) => rows.map((r) => [r.getAttribute('data-node'), r.querySelector('.state')?.textContent]));
    expect(nodes.map(([id]) => id)).toEqual(['sim-us-east', 'sim-eu-west', 'sim-ap-northeast', 'sim-us-west']);
    expect(nodes.map(([, state]) => state)).toEqual(['healthy', 'healthy', 'healthy', 'down']);
    const transitions = await page.$$eval('#transitions li', (items) => items.map((i) => i.textContent));
    expect(transitions[0]).toMatch(/sim-us-west: degraded → down/);
    expect(transitions[1]).toMatch(/sim-us-west: healthy → degraded/);

    // Wrangler dev's placeholder colo is DFW: its row has a figure for every node.
    const dfw = await page.$$eval('#heatmap tr[data-colo="DFW"] td', (cells) => cells.map((c) => c.textContent));
    expect(dfw).toHaveLength(4);
    for (const ms of dfw) expect(Number(ms)).toBeGreaterThan(0);

    const key = await page.$eval(`#keys tr[data-key="${keyId}"]`, (r) => [...r.querySelectorAll('td')].map((c) => c.textContent));
    expect(key[0]).toBe('console-test');
    expect(Number(key[2])).toBeGreaterThanOrEqual(8); // six, one refused (unknown model), one or more while waiting for a table
    expect(key[3]).toBe('1');
    expect(key[5]).toMatch(/^\$0\.\d{6} \(\+1 unpriced\)$/); // priced in the local config; the refused request has no cost
    expect(parseFloat(key[5]!.slice(1))).toBeGreaterThan(0);
    // Effective limits: the key's own (rpm, the daily budget) over the dev config's
    // limits.defaults (rpm 600, tpm 1,000,000, concurrency 20), each saying where it comes from.
    expect(key[6]).toBe('rpm 1,000 (key), tpm 1,000,000 (default), concurrency 20 (default)');
    expect(key[7]).toBe('$5.00/day (key)');
    // The dev key set nothing of its own: it reads the defaults, not "—".
    const dev = await page.$$eval('#keys tbody tr', (rows) =>
      rows.map((r) => [...r.querySelectorAll('td')].map((c) => c.textContent)).find((cells) => cells[0] === 'dev'),
    );
    expect(dev?.[6]).toBe('rpm 600 (default), tpm 1,000,000 (default), concurrency 20 (default)');
    expect(dev?.[7]).toBe('—'); // no budget in the key or the defaults

    const charts = await page.$$eval('.chart', (cs) => cs.map((c) => [c.getAttribute('data-chart'), Number(c.getAttribute('data-total')), c.querySelector('canvas') !== null]));
    expect(charts.map(([t]) => t)).toEqual(['Requests', 'Errors', 'Tokens (in + out)', 'Cost (USD)']);
    for (const [, , canvas] of charts) expect(canvas).toBe(true);
    expect(charts[0]![1]).toBeGreaterThanOrEqual(8);
    expect(charts[1]![1]).toBeGreaterThanOrEqual(1);
    expect(charts[3]![1]).toBeGreaterThan(0);

    // Neither the admin token nor an API key is ever on the page.
    const html = await page.content();
    expect(html).not.toContain(ADMIN_TOKEN);
    expect(html).not.toContain(apiKey);
    await page.screenshot({ path: `${OUT}/console-wide.png`, fullPage: true });

    // Reloading the tab does not ask again (sessionStorage); a new tab would.
    await page.reload({ waitUntil: 'load' });
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 30_000 });
    expect(await page.$eval('#login', (f) => (f as HTMLElement).hidden)).toBe(true);
    await page.close();
  });

  it('fits a phone: nothing overflows the page sideways (wide tables scroll in their own box)', async () => {
    const page = await openConsole({ width: 390, height: 844, isMobile: true });
    const [scrollWidth, innerWidth] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    expect(scrollWidth).toBeLessThanOrEqual(innerWidth + 1);
    expect(await page.$$eval('.chart canvas', (cs) => cs.length)).toBe(4);
    await page.screenshot({ path: `${OUT}/console-phone.png`, fullPage: true });
    await page.close();
  });

  it('lists every key, past the admin API\'s page of 1,000', async () => {
    // With the dev key and console-test's, 1,001 keys: the last page holds at least one.
    const made: string[] = [];
    for (let i = 0; i < 999; i += 25) {
      const batch = Array.from({ length: Math.min(25, 999 - i) }, (_, j) => admin('keys', { method: 'POST', body: JSON.stringify({ name: `bulk-${i + j}` }) }).then((r) => r.json() as Promise<{ id: string }>));
      made.push(...(await Promise.all(batch)).map((k) => k.id));
    }
    const page = await openConsole({ width: 1400, height: 1000 });
    const listed = new Set(await page.$$eval('#keys tbody tr', (rows) => rows.map((r) => r.getAttribute('data-key'))));
    expect(listed.size).toBeGreaterThanOrEqual(1_001);
    for (const id of [...made, keyId]) expect(listed.has(id)).toBe(true);
    await page.close();
  }, 120_000);

  it('runs under a strict Content-Security-Policy, unframeable: a key name written as markup would not run', async () => {
    const res = await fetch(`${BASE}/admin/`);
    const csp = res.headers.get('content-security-policy') ?? '';
    for (const directive of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"]) expect(csp).toContain(directive);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect((await fetch(`${BASE}/_headers`)).status).toBe(404); // read by Workers Assets, not served

    // A caller's text in the console: a key name that is markup is shown as text.
    const name = '<img src="x" onerror="window.__pwned = 1">';
    const { id } = (await (await admin('keys', { method: 'POST', body: JSON.stringify({ name }) })).json()) as { id: string };
    const page = await browser.newPage();
    await page.evaluateOnNewDocument(() => {
      const w = window as unknown as { __violations: string[] };
      w.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) => w.__violations.push(e.effectiveDirective));
    });
    await page.goto(`${BASE}/admin/`, { waitUntil: 'load' });
    await page.type('#token', ADMIN_TOKEN);
    await page.click('#login button[type=submit]');
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 30_000 });
    expect(await page.$eval(`#keys tr[data-key="${id}"] td`, (td) => td.textContent)).toBe(name);
    // The console itself needs nothing the policy refuses (charts included).
    expect(await page.evaluate(() => (window as unknown as { __violations: string[] }).__violations)).toEqual([]);
    expect(await page.$$eval('.chart canvas', (cs) => cs.length)).toBe(4);

    // Were any string ever written as markup, neither a handler attribute nor an inline script runs.
    await page.evaluate((html) => {
      const div = document.createElement('div');
      div.innerHTML = html;
      document.body.append(div);
      const script = document.createElement('script');
      script.textContent = 'window.__pwned = 2';
      document.body.append(script);
    }, name);
    await page.waitForFunction(() => (window as unknown as { __violations: string[] }).__violations.length >= 2);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await page.evaluate(() => (window as unknown as { __violations: string[] }).__violations.sort())).toEqual(['script-src-attr', 'script-src-elem']);
    await page.close();

    // Another site cannot frame the console (clickjacking the login form or "Forget token").
    const framer = await browser.newPage();
    await framer.setContent(`<iframe src="${BASE}/admin/"></iframe>`);
    await new Promise((r) => setTimeout(r, 1_000));
    const frame = framer.frames().find((f) => f !== framer.mainFrame());
    expect(frame).toBeDefined();
    expect(await frame!.$('#token').catch(() => null)).toBeNull();
    await framer.close();
  });

  it('asks again when the token is refused', async () => {
    const page = await browser.newPage();
    await page.goto(`${BASE}/admin/`, { waitUntil: 'load' });
    await page.type('#token', 'not-the-token');
    await page.click('#login button[type=submit]');
    await page.waitForFunction(() => document.getElementById('login-error')?.textContent !== '');
    expect(await page.$eval('#console', (m) => (m as HTMLElement).hidden)).toBe(true);
    await page.close();
  });
});
