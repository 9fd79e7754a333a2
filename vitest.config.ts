import { delimiter } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

const src = (path: string): string => fileURLToPath(new URL(`./src/${path}`, import.meta.url));
/** scripts/bin/express-cern-sso runs the CLI's sources: this repo's stand-in for node_modules/.bin. */
const binShim = fileURLToPath(new URL('./scripts/bin', import.meta.url));

export default defineConfig({
  resolve: {
    // Tests and examples import the package by name; point that at the sources so no build is needed.
    alias: [
      { find: /^express-cern-sso\/testing$/, replacement: src('testing/index.ts') },
      { find: /^express-cern-sso$/, replacement: src('index.ts') },
    ],
  },
  test: {
    testTimeout: 20_000,
    hookTimeout: 30_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          // examples/testing/app.test.ts is the README's "Testing your app" file, run as written.
          include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/keycloak/**'],
          // That file runs `express-cern-sso` from PATH, as `npm test` in a user's project does.
          env: { PATH: `${binShim}${delimiter}${process.env.PATH ?? ''}` },
        },
      },
      {
        // Real Keycloak, started once for the run by the global setup (about 35 s, more the first time).
        extends: true,
        test: {
          name: 'keycloak',
          include: ['test/keycloak/**/*.test.ts'],
          globalSetup: ['test/keycloak/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
