/**
 * `npm run demo` as a new user runs it: a real process, the printed URL and credentials, a
 * login with them through the emulator's form, and a clean stop on Ctrl+C (SIGINT).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TestBrowser } from '../helpers/browser.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        resolve(typeof address === 'object' && address ? address.port : 0);
      });
    });
  });
}

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
});

/** Starts the demo and resolves to everything it printed once it says how to stop it. */
function startDemo(env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const demo = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = demo;
    let output = '';
    const timer = setTimeout(() => {
      reject(new Error(`the demo did not start within 20 s:\n${output}`));
    }, 20_000);
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ctrl+C to stop')) {
        clearTimeout(timer);
        resolve(output);
      }
    };
    demo.stdout.on('data', collect);
    demo.stderr.on('data', collect);
    demo.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited with ${String(code)}:\n${output}`));
    });
  });
}

describe('npm run demo', () => {
  it('prints the app URL and credentials, which log in; PORT overrides the port; Ctrl+C stops it', async () => {
    const port = await freePort();
    const output = await startDemo({ PORT: String(port) });
    const url = /App:\s+(\S+)/.exec(output)?.[1];
    expect(url).toBe(`http://localhost:${port}`);
    const [, login = '', password = ''] = /Log in as:\s+(\S+) \/ (\S+)/.exec(output) ?? [];
    expect(login).toBe('jdoe');

    const browser = new TestBrowser();
    const home = await browser.navigate(`${url}/`);
    expect(home.status).toBe(200);
    const form = await browser.navigate(`${url}/profile`);
    expect(form.body).toMatch(/name="username"/);
    const profile = await browser.submitForm(form, { username: login, password });
    expect(profile.status).toBe(200);
    expect(profile.url).toBe(`${url}/profile`);
    expect(profile.body).toContain('John Doe');
    // The profile lists the user's e-groups (from the emulator's AuthZ API).
    expect(profile.body).toMatch(/E-groups<\/dt><dd>.*<span class="tag">it-dep<\/span>/s);
    // The demo says how to point the CLI at the emulator, with every variable the CLI reads.
    for (const name of [
      'CERN_SSO_ISSUER',
      'CERN_SSO_AUTHZ_API_URL',
      'CERN_SSO_CLIENT_ID',
      'CERN_SSO_CLIENT_SECRET',
    ]) {
      expect(output).toMatch(new RegExp(`CLI:[\\s\\S]*${name}=\\S+`));
    }

    const exited = new Promise<number | null>((resolve) => child?.once('exit', resolve));
    child?.kill('SIGINT');
    expect(await exited).toBe(0);
  }, 40_000);

  it('a port in use gets a one-line hint, not a stack trace', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, resolve));
    const address = blocker.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const result = await startDemo({ PORT: String(port) }).then(
        (output) => ({ started: true, output }),
        (error: unknown) => ({ started: false, output: String(error) }),
      );
      expect(result.started).toBe(false);
      expect(result.output).toContain(`Port ${port} is already in use`);
      expect(result.output).not.toMatch(/\n\s+at /);
    } finally {
      blocker.close();
    }
  }, 40_000);
});
