// Consumers of the package as published: `npm pack`, then `npm install <tarball>` into apps of
// their own (outside this repository, so nothing resolves from our node_modules), for CommonJS,
// Express 4 with @types/express@4, and Express 5. Each app is type-checked (for Express 4 with
// skipLibCheck off, so our .d.ts files are checked against @types/express@4 too) and run: a real
// sign-in against the emulator through the consumer's own Express.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCi } from '../helpers/ci.js';
import { distState } from '../helpers/dist.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixtures = fileURLToPath(new URL('./consumer/', import.meta.url));
const tsc = join(root, 'node_modules', 'typescript', 'lib', 'tsc.js');

const dist = distState(root);
if (dist !== 'fresh' && !isCi()) {
  console.warn(
    `\n[test/package] SKIPPING the npm pack consumer tests: dist is ${dist}; run \`npm test\` (it builds first) or \`npm run build\`\n`,
  );
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd, env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024, timeout: 170_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function runOk(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = {},
): Promise<string> {
  const result = await run(command, args, cwd, env);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} (in ${cwd}) exited ${String(result.code)}:\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result.stdout;
}

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

interface Consumer {
  name: string;
  type: 'module' | 'commonjs';
  /** Check our .d.ts files against this consumer's types too (slow: all of @types/node). */
  checkLibraryTypes: boolean;
  dependencies: string[];
  files: string[];
}

const consumers: Consumer[] = [
  {
    name: 'cjs',
    type: 'commonjs',
    checkLibraryTypes: false,
    dependencies: [
      'express@^5.1.0',
      'express-session@^1.18.0',
      '@types/express@^5.0.0',
      '@types/node@^20.19.0',
    ],
    files: ['check.cjs', 'types.cts'],
  },
  {
    name: 'express4',
    type: 'module',
    // Our .d.ts files are built against @types/express@5: check them against @types/express@4.
    checkLibraryTypes: true,
    dependencies: [
      'express@^4.21.2',
      'express-session@^1.18.0',
      '@types/express@^4.17.21',
      '@types/node@^20.19.0',
    ],
    files: ['app.ts'],
  },
  {
    name: 'express5',
    type: 'module',
    checkLibraryTypes: false,
    dependencies: [
      'express@^5.1.0',
      'express-session@^1.18.0',
      '@types/express@^5.0.0',
      '@types/node@^20.19.0',
    ],
    files: ['app.ts'],
  },
];

/** What a TypeScript user of this package would have: strict and nodenext. */
const consumerTsconfig = (consumer: Consumer) => ({
  compilerOptions: {
    target: 'ES2022',
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: !consumer.checkLibraryTypes,
    types: ['node'],
    rootDir: '.',
    outDir: 'out',
  },
  include: ['*.ts', '*.cts'],
});

interface Packed {
  filename: string;
  files: { path: string }[];
}

describe.skipIf(dist !== 'fresh' && !isCi())('consumers of the npm pack tarball', () => {
  let work = '';
  let packed: Packed | undefined;
  let manifest: Record<string, unknown> = {};

  beforeAll(async () => {
    expect(dist, 'dist must be built from the current sources (`npm run build`; `npm test` does it)').toBe(
      'fresh',
    );
    work = mkdtempSync(join(tmpdir(), 'cern-sso-consumers-'));
    // --ignore-scripts: dist is already built (pretest); building here would race other tests using dist.
    const out = await runOk('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], root);
    packed = (JSON.parse(out) as Packed[])[0];
    if (packed === undefined) throw new Error(`npm pack printed no package: ${out}`);
    const tarball = join(work, packed.filename);
    const unpacked = join(work, 'unpacked');
    mkdirSync(unpacked);
    await runOk('tar', ['-xzf', tarball, '-C', unpacked], work);
    manifest = readJson(join(unpacked, 'package', 'package.json'));

    await Promise.all(
      consumers.map(async (consumer) => {
        const dir = join(work, consumer.name);
        mkdirSync(dir);
        writeFileSync(
          join(dir, 'package.json'),
          JSON.stringify({ name: `consumer-${consumer.name}`, private: true, type: consumer.type }),
        );
        writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(consumerTsconfig(consumer)));
        for (const file of consumer.files) copyFileSync(join(fixtures, file), join(dir, file));
        await runOk(
          'npm',
          [
            'install',
            '--no-audit',
            '--no-fund',
            '--prefer-offline',
            '--no-package-lock',
            tarball,
            ...consumer.dependencies,
          ],
          dir,
        );
      }),
    );
  }, 300_000);

  afterAll(() => {
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  it('the tarball holds the build, the README and the licence: no source maps, sources or tests', () => {
    const paths = (packed?.files ?? []).map((file) => file.path);
    expect(paths).toContain('dist/index.js');
    expect(paths).toContain('dist/index.d.ts');
    expect(paths).toContain('dist/testing/index.js');
    expect(paths).toContain('dist/cli/main.js');
    expect(paths).toContain('README.md');
    expect(paths).toContain('LICENSE');
    expect(paths.filter((path) => path.endsWith('.map'))).toEqual([]);
    expect(paths.filter((path) => !/^(dist\/|README\.md$|LICENSE$|package\.json$)/.test(path))).toEqual([]);
  });

  it('its package.json: no install-time script, ^ ranges for runtime dependencies, Express types as optional peers', () => {
    const scripts = (manifest.scripts ?? {}) as Record<string, string>;
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) {
      expect(Object.hasOwn(scripts, hook), `scripts.${hook}`).toBe(false);
    }
    const dependencies = (manifest.dependencies ?? {}) as Record<string, string>;
    expect(Object.keys(dependencies).length).toBeGreaterThan(0);
    for (const [name, range] of Object.entries(dependencies)) expect(range, name).toMatch(/^\^\d/);
    expect(Object.hasOwn(dependencies, '@types/express')).toBe(false);
    const peers = manifest.peerDependencies as Record<string, string>;
    expect(peers['@types/express']).toBe('^4.17.21 || ^5.0.0');
    expect(manifest.peerDependenciesMeta).toEqual({ '@types/express': { optional: true } });
    // `default`, not only `import`: require() of the ESM build (Node ^20.19) needs it.
    expect(manifest.exports).toMatchObject({
      '.': { types: './dist/index.d.ts', default: './dist/index.js' },
      './testing': { types: './dist/testing/index.d.ts', default: './dist/testing/index.js' },
    });
  });

  it('CommonJS: require() of express-cern-sso and express-cern-sso/testing, a signed-in request; .cts types check', async () => {
    const dir = join(work, 'cjs');
    const result = await run(process.execPath, ['check.cjs'], dir);
    expect(result.stderr).not.toMatch(
      /ERR_PACKAGE_PATH_NOT_EXPORTED|ERR_REQUIRE_ESM|ERR_REQUIRE_ASYNC_MODULE/,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ me: [200, { login: 'jdoe' }], configError: 'ERR_CONFIG' });
    const types = await run(process.execPath, [tsc, '-p', 'tsconfig.json', '--noEmit'], dir);
    expect(types.stdout + types.stderr).toBe('');
    expect(types.code).toBe(0);
  }, 120_000);

  for (const [name, major] of [
    ['express4', '4'],
    ['express5', '5'],
  ] as const) {
    it(`Express ${major} with @types/express@${major}: app.use(cernSso()) and the guards type-check, and a sign-in works`, async () => {
      const dir = join(work, name);
      const installed = readJson(join(dir, 'node_modules', 'express', 'package.json'));
      const types = readJson(join(dir, 'node_modules', '@types', 'express', 'package.json'));
      expect(String(installed.version)).toMatch(new RegExp(`^${major}\\.`));
      expect(String(types.version)).toMatch(new RegExp(`^${major}\\.`));

      const compiled = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], dir);
      expect(compiled.stdout + compiled.stderr).toBe('');
      expect(compiled.code).toBe(0);

      const result = await run(process.execPath, ['out/app.js'], dir);
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toEqual({
        anonymous: 401,
        me: [200, { login: 'jdoe' }],
        inGroup: 200,
        notInGroup: 403,
        bearer: [200, { login: 'jdoe' }],
      });
    }, 120_000);
  }
});
