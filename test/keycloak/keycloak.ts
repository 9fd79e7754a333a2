/**
 * Real Keycloak for the conformance tests: the official distribution, fetched from Maven Central
 * with `mvn dependency:copy` into `.tmp/keycloak/<version>/` (gitignored, reused between runs),
 * started with `kc.sh start-dev` on loopback ports with the CERN-shaped realm of
 * `realm-cern.json` imported into an in-memory database (so every run starts from the file).
 *
 * Started once per test run by `global-setup.ts`; the tests reach it through `inject('keycloak')`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Keycloak release the tests run against (the newest 26.x on Maven Central in December). */
export const KEYCLOAK_VERSION = '26.7.3';

export const ADMIN_USERNAME = 'admin';
export const ADMIN_PASSWORD = 'admin-password-for-tests';

/** What the tests need to reach the running server (passed through vitest's `provide`). */
export interface KeycloakInfo {
  version: string;
  /** `http://127.0.0.1:<port>/auth` */
  baseUrl: string;
  /** The issuer of the `cern` realm, as the library is configured with it. */
  issuer: string;
  /** Bootstrap admin of the master realm (admin REST API). */
  adminUsername: string;
  adminPassword: string;
  logFile: string;
}

export interface RunningKeycloak {
  info: KeycloakInfo;
  /** Seconds from spawning `kc.sh` to readiness. */
  startSeconds: number;
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WORK_DIR = join(ROOT, '.tmp', 'keycloak');
const HOME = join(WORK_DIR, KEYCLOAK_VERSION);
const REALM_FILE = fileURLToPath(new URL('./realm-cern.json', import.meta.url));

const READY_TIMEOUT_MS = 240_000; // about 35 s warm, 80 s when Quarkus re-augments (first run), on 2 cores
const STOP_TIMEOUT_MS = 20_000;

const HEAP = '-Xms256m -Xmx768m';

function javaCommand(): string {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

/** The major version of the JDK that `kc.sh` will use, or undefined when there is none. */
function javaMajorVersion(): number | undefined {
  const probe = spawnSync(javaCommand(), ['-version'], { encoding: 'utf8' });
  if (probe.status !== 0) return undefined;
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${probe.stderr}${probe.stdout}`);
  if (!match) return undefined;
  const major = Number(match[1]);
  return major === 1 ? Number(match[2]) : major; // "1.8.0" is Java 8
}

function hasMaven(): boolean {
  return spawnSync('mvn', ['-v'], { encoding: 'utf8' }).status === 0;
}

function distributionPresent(): boolean {
  return existsSync(join(HOME, 'bin', 'kc.sh')) && existsSync(join(HOME, 'lib', 'quarkus-run.jar'));
}

/**
 * What is missing to run Keycloak here, as sentences for a person (empty when nothing is):
 * Java 17+ always; Maven only while the distribution has not been downloaded yet.
 */
export function keycloakPrerequisitesMissing(): string[] {
  const missing: string[] = [];
  const java = javaMajorVersion();
  if (java === undefined) missing.push(`no Java (${javaCommand()}): install a JDK 17, 21 or 25`);
  else if (java < 17) missing.push(`Java ${java} found, Keycloak ${KEYCLOAK_VERSION} needs Java 17 or newer`);
  if (!distributionPresent() && !hasMaven())
    missing.push(`no Maven (mvn) to download org.keycloak:keycloak-quarkus-dist:${KEYCLOAK_VERSION}`);
  return missing;
}

function run(command: string, args: string[], what: string): void {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (result.status !== 0) {
    const output = `${result.stdout}${result.stderr}`.slice(-4000);
    throw new Error(
      `${what} failed (exit ${String(result.status)}): ${command} ${args.join(' ')}\n${output}`,
    );
  }
}

/**
 * Downloads and unpacks the distribution unless it is there already. Unpacks into a scratch
 * folder first and renames it, so an interrupted run never leaves a half distribution behind.
 */
export function ensureKeycloakDistribution(): string {
  if (distributionPresent()) return HOME;
  const download = join(WORK_DIR, 'download');
  const archive = join(download, `keycloak-quarkus-dist-${KEYCLOAK_VERSION}.tar.gz`);
  mkdirSync(download, { recursive: true });
  if (!existsSync(archive)) {
    console.info(`Downloading Keycloak ${KEYCLOAK_VERSION} through Maven (about 176 MB, once)...`);
    // prettier-ignore
    run('mvn', [
      '-q', '-B',
      'dependency:copy',
      `-Dartifact=org.keycloak:keycloak-quarkus-dist:${KEYCLOAK_VERSION}:tar.gz`,
      `-DoutputDirectory=${download}`,
    ], 'Downloading Keycloak');
  }
  const scratch = join(WORK_DIR, `unpack-${process.pid}`);
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  try {
    run('tar', ['-xzf', archive, '-C', scratch], 'Unpacking Keycloak');
    rmSync(HOME, { recursive: true, force: true });
    renameSync(join(scratch, `keycloak-${KEYCLOAK_VERSION}`), HOME);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return HOME;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

function logTail(logFile: string, lines = 60): string {
  try {
    return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal); // kc.sh and the JVM it started
  } catch {
    // already gone
  }
}

/** Keycloak exited before it was ready (e.g. a port taken between choosing and binding it). */
class ExitedDuringStart extends Error {}

/**
 * Starts Keycloak with the CERN realm and resolves once it is ready and the realm answers;
 * rejects with the log's tail otherwise. A start where Keycloak exits at once (a free port taken
 * by someone else in the meantime) is tried once more, on new ports; a start that hangs is not.
 */
export async function startKeycloak(): Promise<RunningKeycloak> {
  try {
    return await startOnce();
  } catch (error) {
    if (!(error instanceof ExitedDuringStart)) throw error;
    console.warn(`${error.message}\nTrying once more on other ports.`);
    return startOnce();
  }
}

async function startOnce(): Promise<RunningKeycloak> {
  const home = ensureKeycloakDistribution();
  // A fresh data folder per run: the realm is imported from the file, nothing survives a run.
  const data = join(home, 'data');
  rmSync(data, { recursive: true, force: true });
  mkdirSync(join(data, 'import'), { recursive: true });
  writeFileSync(join(data, 'import', 'realm-cern.json'), readFileSync(REALM_FILE));

  const [httpPort, managementPort] = [await freePort(), await freePort()];
  const baseUrl = `http://127.0.0.1:${httpPort}/auth`;
  const logFile = join(WORK_DIR, 'keycloak.log');
  const log = openSync(logFile, 'w');
  const started = Date.now();
  // prettier-ignore
  const child = spawn(join(home, 'bin', 'kc.sh'), [
    'start-dev',
    '--db=dev-mem',
    '--http-host=127.0.0.1',
    `--http-port=${httpPort}`,
    '--http-relative-path=/auth',
    // Issuer and every URL Keycloak writes (tokens, discovery, logout tokens) use exactly this.
    `--hostname=${baseUrl}`,
    '--health-enabled=true',
    `--http-management-port=${managementPort}`,
    '--import-realm',
  ], {
    cwd: home,
    detached: true, // its own process group, so stop() reaches the JVM too
    stdio: ['ignore', log, log],
    env: {
      ...process.env,
      KC_BOOTSTRAP_ADMIN_USERNAME: ADMIN_USERNAME,
      KC_BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD,
      JAVA_OPTS_KC_HEAP: HEAP,
    },
  });
  closeSync(log);
  // If the test process dies without stop(), do not leave a JVM behind.
  const killOnExit = (): void => {
    killGroup(child, 'SIGKILL');
  };
  process.once('exit', killOnExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => {
        killGroup(child, 'SIGKILL');
      }, STOP_TIMEOUT_MS);
      await exited(child);
      clearTimeout(timer);
      process.removeListener('exit', killOnExit);
    })();
    return stopping;
  };

  const ready = `http://127.0.0.1:${managementPort}/auth/health/ready`;
  const discovery = `${baseUrl}/realms/cern/.well-known/openid-configuration`;
  const deadline = started + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      process.removeListener('exit', killOnExit);
      throw new ExitedDuringStart(
        `Keycloak exited during start (${String(child.exitCode ?? child.signalCode)}). Log ${logFile}:\n${logTail(logFile)}`,
      );
    }
    if ((await answers(ready)) && (await answers(discovery))) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `Keycloak was not ready within ${READY_TIMEOUT_MS / 1000} s. Log ${logFile}:\n${logTail(logFile)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return {
    info: {
      version: KEYCLOAK_VERSION,
      baseUrl,
      issuer: `${baseUrl}/realms/cern`,
      adminUsername: ADMIN_USERNAME,
      adminPassword: ADMIN_PASSWORD,
      logFile,
    },
    startSeconds: (Date.now() - started) / 1000,
    stop,
  };
}
