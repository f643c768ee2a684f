/**
 * `npm run dev`: the router on its built-in simulated fleet — no keys, no internet.
 *
 * Starts the fleet on 127.0.0.1:8700-8704, runs `wrangler dev` on :8787 with a dev admin
 * token and the fleet's node secret, checks the config loaded, runs the cron once (probes,
 * health, tables; the HealthMonitor's alarm then probes every 10 s), mints a dev API key
 * through the admin API, and prints what to curl. Ctrl-C stops everything.
 */
import { spawn } from 'node:child_process';
import { startLocalFleet, SIM_NODE_KEY } from './local-fleet.ts';

const PORT = Number(process.env.PORT ?? 8787);
const ADMIN_TOKEN = 'dev-admin-token';
/** Signs Responses ids (README "Responses and stored state"); production sets its own secret. */
const RESPONSE_ID_SECRET = 'dev-response-id-secret-0123456789abcdef';
const base = `http://127.0.0.1:${PORT}`;

const fleet = await startLocalFleet();
console.log(`simulated fleet: control ${fleet.controlUrl}, nodes ${fleet.nodes.map((n) => `${n.id}@${n.port}`).join(', ')}`);

const wrangler = spawn(
  'wrangler',
  [
    'dev',
    ...['--ip', '127.0.0.1', '--port', String(PORT), '--var', `ADMIN_TOKEN:${ADMIN_TOKEN}`, '--var', `SIM_NODE_KEY:${SIM_NODE_KEY}`, '--var', `RESPONSE_ID_SECRET:${RESPONSE_ID_SECRET}`],
    ...['--show-interactive-dev-session=false', '--test-scheduled'],
    // DEV_PERSIST_TO: keep this run's KV and Durable Objects apart (the console test starts empty).
    ...(process.env.DEV_PERSIST_TO ? ['--persist-to', process.env.DEV_PERSIST_TO] : []),
  ],
  // No internet here: miniflare would try to fetch the real `request.cf` and print a stack
  // trace when it cannot. Its placeholder (DFW, Austin, US) is what local dev gets anyway.
  { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false' } },
);

async function shutdown(code: number) {
  wrangler.kill('SIGTERM');
  await fleet.close();
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
wrangler.on('exit', (code) => {
  console.error(`wrangler dev exited (${code})`);
  void fleet.close().then(() => process.exit(code ?? 1));
});

async function waitReady(deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the router did not answer on ${base} within 90 s`);
}

try {
  await waitReady(Date.now() + 90_000);
  // /admin/status loads the config and, to an admin, names what is broken: it shows here, at start-up.
  const probe = await fetch(`${base}/admin/status`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  const probeBody = (await probe.json()) as { error?: { code?: string; message?: string } };
  if (probeBody.error?.code === 'config_invalid') throw new Error(probeBody.error.message);
  // wrangler dev does not run cron triggers on its own: run the first one (it arms the alarm).
  await fetch(`${base}/__scheduled?cron=*+*+*+*+*`);
  const created = await fetch(`${base}/admin/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'dev' }),
  });
  const { key } = (await created.json()) as { key: string };
  console.log(`
llm-edge-router is running on ${base} (simulated fleet, no internet needed)

  dev API key:      ${key}
  admin token:      ${ADMIN_TOKEN}
  console:          ${base}/admin/   (asks for the admin token once per tab)

  curl ${base}/v1/chat/completions -H "authorization: Bearer ${key}" \\
    -H "content-type: application/json" \\
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello"}]}' -i

  curl -N ${base}/v1/chat/completions -H "authorization: Bearer ${key}" \\
    -H "content-type: application/json" \\
    -d '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Hello"}]}'

  curl ${base}/v1/responses -H "authorization: Bearer ${key}" \\
    -H "content-type: application/json" -d '{"model":"gpt-4o-mini","input":"Hello"}'

  curl ${base}/v1/messages -H "x-api-key: ${key}" -H "anthropic-version: 2023-06-01" \\
    -H "content-type: application/json" \\
    -d '{"model":"gpt-4o-mini","max_tokens":256,"messages":[{"role":"user","content":"Hello"}]}'

  curl ${base}/v1/models -H "authorization: Bearer ${key}"
  curl ${base}/admin/keys -H "authorization: Bearer ${ADMIN_TOKEN}"
  curl ${base}/admin/status -H "authorization: Bearer ${ADMIN_TOKEN}"
  curl "${base}/admin/route?model=gpt-4o-mini&colo=NRT&lat=35.7&lon=139.7" -H "authorization: Bearer ${ADMIN_TOKEN}"
  curl "${base}/__scheduled?cron=*+*+*+*+*"    # run the cron now (probes, health, tables)

  Claude Code:   ANTHROPIC_BASE_URL=${base} ANTHROPIC_AUTH_TOKEN=${key} \\
                 ANTHROPIC_MODEL=gpt-4o-mini ANTHROPIC_DEFAULT_HAIKU_MODEL=gpt-4o-mini claude
  OpenAI SDKs:   baseURL ${base}/v1, apiKey the dev key; Anthropic SDK: baseURL ${base}

  Break a node:  curl -X PUT ${fleet.controlUrl}/nodes/sim-us-east -d '{"status":503}'
  Heal all:      curl -X POST ${fleet.controlUrl}/reset
`);
} catch (err) {
  console.error(`\nstart-up failed: ${(err as Error).message}`);
  await shutdown(1);
}
