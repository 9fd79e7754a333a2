import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cli, runNode } from './helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

describe('help and version', () => {
  it('--help and -h list every command, the environment and the exit codes', async () => {
    for (const flag of ['--help', '-h']) {
      const run = await cli([flag], {});
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('');
      for (const text of [
        'Usage: express-cern-sso <command>',
        'token inspect',
        'user',
        'groups',
        'search',
        'members',
        'CERN_SSO_CLIENT_ID',
        'CERN_SSO_CLIENT_SECRET',
        'CERN_SSO_ISSUER',
        'CERN_SSO_AUTHZ_API_URL',
        'CERN_SSO_AUDIENCE',
        'Exit codes:',
        '  3  Upstream unavailable',
      ]) {
        expect(run.stdout).toContain(text);
      }
    }
  });

  it.each([
    [['token', 'inspect', '--help'], 'Usage: express-cern-sso token inspect'],
    [['token', 'inspect', '-h'], 'Usage: express-cern-sso token inspect'],
    [['user', '--help'], 'Usage: express-cern-sso user LOGIN'],
    [['groups', '-h'], 'Usage: express-cern-sso groups LOGIN'],
    [['search', '--help'], 'Usage: express-cern-sso search QUERY'],
    [['members', '--help'], 'Usage: express-cern-sso members GROUP'],
    [['help', 'search'], 'Usage: express-cern-sso search QUERY'],
    [['help', 'token', 'inspect'], 'Usage: express-cern-sso token inspect'],
    [['help', 'token'], 'Usage: express-cern-sso token <subcommand>'],
    [['token', '--help'], 'Usage: express-cern-sso token <subcommand>'],
    [['help'], 'Usage: express-cern-sso <command>'],
  ])('%j prints its help (exit 0) with the exit codes, needing no configuration', async (args, usage) => {
    const run = await cli(args, {});
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout.startsWith(usage)).toBe(true);
    expect(run.stdout).toMatch(/Exit codes:|Subcommands:/);
  });

  it('--help wins over other arguments and unknown options', async () => {
    const run = await cli(['search', 'doe', '--bogus', '--help'], {});
    expect(run.code).toBe(0);
    expect(run.stdout.startsWith('Usage: express-cern-sso search')).toBe(true);
  });

  it('--version prints the package version', async () => {
    const run = await cli(['--version'], {});
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${version}\n`);
  });
});

describe('usage errors (exit 2)', () => {
  it.each([
    [[], 'Usage: express-cern-sso <command>'],
    [['frobnicate'], 'express-cern-sso: unknown command "frobnicate"'],
    [['--json'], 'express-cern-sso: unknown option "--json" (options go after the command)'],
    [['token'], 'express-cern-sso token: missing subcommand (inspect)'],
    [['token', 'verify'], 'express-cern-sso token: unknown subcommand "verify" (expected inspect)'],
    [['groups', 'jdoe', '--bogus'], "express-cern-sso groups: Unknown option '--bogus'"],
    [['search', 'doe', '--limit'], "express-cern-sso search: Option '--limit <value>' argument missing"],
    [['help', 'nope'], 'express-cern-sso: unknown command "nope"'],
  ])('%j', async (args, message) => {
    const run = await cli(args, {});
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(message);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('the entry point in a child process', () => {
  it('node --import tsx src/cli/main.ts --help exits 0', async () => {
    const result = await runNode(['--import', 'tsx', 'src/cli/main.ts', '--help'], root);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: express-cern-sso <command>');
  });
});
