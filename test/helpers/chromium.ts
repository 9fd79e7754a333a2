/**
 * Real-browser tests with playwright-core and the system's Chromium (Debian package `chromium`),
 * never a downloaded browser. CHROMIUM_PATH overrides the executable.
 *
 * Policy when Chromium is missing: in CI (`CI` set to anything but `false`/`0`) browser tests
 * fail, locally they are skipped with a loud warning. Use:
 *
 * ```ts
 * describe.skipIf(skipWithoutChromium())('in a browser', () => { ... launchChromium() ... });
 * ```
 */
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { isCi } from './ci.js';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_REQUIRED_IN_CI = 'chromium is required in CI: apt-get install chromium';

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Whether the Chromium executable exists and can be run. */
export function chromiumAvailable(): boolean {
  try {
    accessSync(chromiumPath, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const inCi = (): boolean => isCi();

/**
 * True when browser tests must be skipped: Chromium is missing and this is not CI (a banner is
 * printed then). In CI this is always false, so the tests run and `launchChromium()` fails them.
 */
export function skipWithoutChromium(): boolean {
  if (chromiumAvailable() || inCi()) return false;
  const line = '!'.repeat(78);
  console.warn(
    `\n${line}\n!! BROWSER TESTS SKIPPED: no Chromium at ${chromiumPath}\n` +
      `!! Install it (apt-get install chromium) or set CHROMIUM_PATH. In CI (CI set) these tests fail.\n${line}\n`,
  );
  return true;
}

export interface ChromiumHandle {
  browser: Browser;
  /** The run's temporary folder (TMPDIR of the browser and of Playwright's profile folder). */
  tmpDir: string;
  /** Closes the browser and removes the temporary folder. */
  close(): Promise<void>;
}

/**
 * Launches headless Chromium with TMPDIR set to a folder of this run (removed by `close()`, or at
 * once when the launch fails: a failed launch leaves profile folders behind otherwise).
 */
export async function launchChromium(): Promise<ChromiumHandle> {
  if (!chromiumAvailable()) {
    throw new Error(
      inCi()
        ? `${CHROMIUM_REQUIRED_IN_CI} (no executable at ${chromiumPath})`
        : `no Chromium at ${chromiumPath}: apt-get install chromium, or set CHROMIUM_PATH`,
    );
  }
  const tmpDir = await mkdtemp(join(tmpdir(), 'cern-sso-chromium-'));
  // Playwright creates its profile and artifacts folders in os.tmpdir() during launch.
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = tmpDir;
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ARGS,
      env: { ...process.env, TMPDIR: tmpDir },
    });
  } catch (error) {
    await rm(tmpDir, { recursive: true, force: true });
    throw error;
  } finally {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
  }
  let closing: Promise<void> | undefined;
  return {
    browser,
    tmpDir,
    close() {
      closing ??= browser
        .close()
        .catch(() => undefined)
        .then(() => rm(tmpDir, { recursive: true, force: true }));
      return closing;
    },
  };
}
