/**
 * Portkey's AI gateway (`@portkey-ai/gateway`, its own Node server entry) as a side-by-side
 * target for the benchmark: started as a child process bound to loopback, pointed at a
 * fleet node as an OpenAI-compatible provider through its `x-portkey-provider` and
 * `x-portkey-custom-host` headers. It runs in Node, not workerd: its CPU per request is its
 * Node process's (from `/proc`), the router's is its workerd process's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface Portkey {
  url: string;
  /** Headers that route a request through Portkey to `upstream` as an OpenAI-compatible provider. */
  headers(upstream: string, key: string): Record<string, string>;
  /** Its Node process (its CPU is read from `/proc`). */
  pid: number | undefined;
  version: string;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Start Portkey's gateway on loopback; resolves when it answers. */
export async function startPortkey(): Promise<Portkey> {
  const port = await freePort();
  const entry = fileURLToPath(import.meta.resolve('@portkey-ai/gateway/build/start-server.js'));
  const preload = fileURLToPath(new URL('./portkey-preload.mjs', import.meta.url));
  const child: ChildProcess = spawn(process.env.PORTKEY_NODE ?? process.execPath, ['--import', preload, entry, `--port=${port}`, '--headless'], {
    // production: no log-streaming UI routes; the gateway is the same.
    env: { ...process.env, NODE_ENV: 'production' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Portkey's gateway exited (${child.exitCode}) before answering`);
    try {
      await fetch(url);
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill();
        throw new Error('Portkey\'s gateway did not answer within 20 s');
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    url,
    headers: (upstream, key) => ({ 'x-portkey-provider': 'openai', 'x-portkey-custom-host': upstream, authorization: `Bearer ${key}` }),
    pid: child.pid,
    version: (JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.resolve('@portkey-ai/gateway/build/start-server.js'))), 'utf8')) as { version: string }).version,
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill();
      await exited;
    },
  };
}
