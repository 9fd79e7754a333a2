import { execFile } from 'node:child_process';
import { Readable } from 'node:stream';
import type { CernSsoEmulator } from 'express-cern-sso/testing';
import { runCli } from '../../src/cli/run.js';

/** What one in-process run of the CLI produced. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- test convenience
  json: () => any;
}

/** Captures a stream's writes. */
function sink(): { write: (chunk: string) => boolean; text: () => string } {
  const chunks: string[] = [];
  return {
    write: (chunk: string) => {
      chunks.push(chunk);
      return true;
    },
    text: () => chunks.join(''),
  };
}

/** Runs `express-cern-sso ...args` in-process with `env` (and `stdin` text, if given). */
export async function cli(
  args: string[],
  env: Record<string, string | undefined>,
  stdin?: string,
): Promise<CliRun> {
  const stdout = sink();
  const stderr = sink();
  const code = await runCli(args, {
    stdout,
    stderr,
    env,
    ...(stdin === undefined ? {} : { stdin: Readable.from([stdin]) }),
  });
  const out = stdout.text();
  // eslint-disable-next-line @typescript-eslint/no-unsafe-return -- see CliRun.json
  return { code, stdout: out, stderr: stderr.text(), json: () => JSON.parse(out) };
}

/** The environment of an app registered in the emulator as `demo-app`. */
export function emulatorEnv(
  emulator: CernSsoEmulator,
  extra: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    CERN_SSO_ISSUER: emulator.issuer,
    CERN_SSO_AUTHZ_API_URL: emulator.authzApiUrl,
    CERN_SSO_CLIENT_ID: 'demo-app',
    CERN_SSO_CLIENT_SECRET: 'demo-app-secret',
    ...extra,
  };
}

/** The AuthZ API prefix on the emulator. */
export const AUTHZ_API = '/api/v1.0';

/** Runs `node ...args` in `cwd` as a child process (15 s at most): exit code and output. */
export function runNode(
  args: string[],
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, timeout: 15_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
