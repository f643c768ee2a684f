/**
 * The configurations `wrangler.toml` ships — the local one (simulated fleet) and the
 * deployable `[env.production]` example — pass the router's own config validation, so a
 * copied example never answers every request with `config_invalid`.
 */
import { unstable_readConfig } from 'wrangler';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load';

describe('wrangler.toml', () => {
  it.each([[''], ['production']])('ROUTER_CONFIG of env %j is a valid router config', (env) => {
    const config = unstable_readConfig({ config: 'wrangler.toml', ...(env ? { env } : {}) });
    const r = parseConfig(config.vars.ROUTER_CONFIG);
    expect(r.ok ? 'ok' : r.message).toBe('ok');
  });
});
