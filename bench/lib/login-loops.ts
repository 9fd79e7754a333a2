/**
 * Full logins under load: `loops` browsers at a time, each signing in through the OP again and
 * again (a fresh cookie jar every time, so every login is a first visit: `/login` → the OP's
 * authorize → the app's callback → the signed-in page) for a fixed time. A login counts only
 * when it ended on the signed-in page with the expected body; anything else fails the sample.
 */
import { browserLogin } from './login.js';
import type { PairedSide, Sample } from './paired.js';

export interface LoginLoad {
  /** Where a login starts. */
  loginUrl: string;
  /** The body the signed-in page must answer with (status 200). */
  expectedBody: string;
  /** Concurrent login loops. */
  loops: number;
  durationSec: number;
}

export interface LoginSample {
  /** Logins completed (all ended signed in). */
  logins: number;
  loginsPerSec: number;
  /** Login latency percentiles, ms. */
  p50: number;
  p99: number;
}

/** Nearest-rank percentile of an ascending list. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}

/** One login from a fresh browser; throws unless it ended on the signed-in page. */
export async function loginOnce(loginUrl: string, expectedBody: string): Promise<number> {
  const started = performance.now();
  const result = await browserLogin(loginUrl);
  if (result.status !== 200 || result.body !== expectedBody) {
    throw new Error(
      `login from ${loginUrl} ended with ${result.status} at ${result.url}: ${result.body.slice(0, 200)}`,
    );
  }
  return performance.now() - started;
}

/** Runs the login loops for `durationSec` (logins under way at the end are finished and counted). */
export async function runLogins(load: LoginLoad): Promise<LoginSample> {
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + load.durationSec * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) latencies.push(await loginOnce(load.loginUrl, load.expectedBody));
  };
  await Promise.all(Array.from({ length: load.loops }, loop));
  const elapsedSec = (performance.now() - started) / 1000;
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    logins: latencies.length,
    loginsPerSec: latencies.length / elapsedSec,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
  };
}

/**
 * One login sample of `side` as a paired-rounds {@link Sample} (`reqPerSec` = logins per second,
 * `cpuUs` = the app's CPU µs per login), plus the CPU µs per login of the `shared` processes
 * (the OP), which serves every side alike.
 */
export async function loginSample(
  side: PairedSide & { child: { data: { loginUrl: string } } },
  shared: { cpuUsage(): Promise<NodeJS.CpuUsage> },
  options: Omit<LoginLoad, 'loginUrl'>,
): Promise<Sample & { sharedCpuUs: number }> {
  const cpu = async () => {
    const [app, op] = await Promise.all([side.child.cpuUsage(), shared.cpuUsage()]);
    return { app: app.user + app.system, op: op.user + op.system };
  };
  const before = await cpu();
  const sample = await runLogins({ ...options, loginUrl: side.child.data.loginUrl });
  const after = await cpu();
  if (sample.logins === 0) throw new Error(`${side.label}: no login completed`);
  return {
    reqPerSec: sample.loginsPerSec,
    p50: sample.p50,
    p99: sample.p99,
    requests: sample.logins,
    cpuUs: (after.app - before.app) / sample.logins,
    sharedCpuUs: (after.op - before.op) / sample.logins,
  };
}
