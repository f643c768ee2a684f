import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';
import { NODE_SECRETS, testRouterConfig, type FleetInfo } from './test/setup/test-config.ts';

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';
/** Signs Responses ids in the workerd tests (README "Responses and stored state"). */
export const TEST_RESPONSE_ID_SECRET = 'test-response-id-secret-0123456789abcdef';

export default defineConfig({
  test: {
    projects: [
      {
        // Pure policy (ranking, retry decisions, limiter arithmetic): plain Node, no runtime.
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' },
      },
      {
        // The operator console in Chromium (shipped by the @sparticuz/chromium devDependency) against `npm run dev`.
        // `npm test` runs it after the others: wrangler dev and a browser beside the workerd
        // tests would starve their sub-second stream timeouts on two cores.
        test: { name: 'browser', include: ['test/browser/**/*.test.ts'], environment: 'node', testTimeout: 60_000, hookTimeout: 180_000 },
      },
      {
        // Integration: the Worker in workerd against the simulated fleet on loopback.
        plugins: [
          cloudflareTest(({ inject }) => {
            const fleet = inject('fleet') as FleetInfo;
            return {
              wrangler: { configPath: './wrangler.toml' },
              miniflare: {
                bindings: {
                  ROUTER_CONFIG: JSON.stringify(testRouterConfig(fleet)),
                  ADMIN_TOKEN: TEST_ADMIN_TOKEN,
                  RESPONSE_ID_SECRET: TEST_RESPONSE_ID_SECRET,
                  FLEET_CONTROL_URL: fleet.controlUrl,
                  ...NODE_SECRETS,
                  VERTEX_SA: fleet.vertexServiceAccount ?? '',
                },
              },
            };
          }),
        ],
        test: {
          name: 'worker',
          include: ['test/worker/**/*.test.ts'],
          globalSetup: ['test/setup/global-setup.ts'],
          testTimeout: 20_000,
        },
      },
    ],
  },
});
