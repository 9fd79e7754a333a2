import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runNode } from './helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  bin?: Record<string, string>;
  files?: string[];
};
const BUILT = join(root, 'dist', 'cli', 'main.js');
const built = existsSync(BUILT);
/** In CI, dist is built by `npm test` (the pretest script): its absence is a failure there. */
const ci = process.env.CI === 'true' || process.env.CI === '1';
const NOT_BUILT =
  'dist/cli/main.js is missing: `npm test` builds it first (the pretest script), or run `npm run build`';

if (!built && !ci) console.warn(`[test/cli/bin] skipping the installed-bin run: ${NOT_BUILT}`);

describe('the package bin as installed', () => {
  it('package.json maps express-cern-sso to ./dist/cli/main.js, which is published', () => {
    expect(pkg.bin?.['express-cern-sso']).toBe('./dist/cli/main.js');
    expect(pkg.files).toContain('dist');
  });

  it('src/cli/main.ts starts with the node shebang (tsc keeps it in dist)', () => {
    const source = readFileSync(join(root, 'src', 'cli', 'main.ts'), 'utf8');
    expect(source.startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it.skipIf(!built && !ci)(
    'node dist/cli/main.js --help exits 0 (skipped outside CI when dist is absent; fails in CI)',
    async () => {
      expect(built, NOT_BUILT).toBe(true);
      expect(readFileSync(BUILT, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
      const result = await runNode([BUILT, '--help'], root);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('Usage: express-cern-sso <command>');
    },
  );
});
