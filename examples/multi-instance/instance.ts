/**
 * One app instance as its own process (what a pod runs). Configured by environment:
 * REDIS_URL, PORT, INSTANCE, SESSION_SECRETS (comma-separated), CERN_SSO_* (see README); for
 * tests only, MULTI_INSTANCE_TEST_CLOCK=1 (see test-clock.ts).
 */
import { createClient } from 'redis';
import { createInstanceApp } from './app.js';
import { TEST_CLOCK_ENV, TEST_CLOCK_PATH, testClock } from './test-clock.js';

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const instance = process.env.INSTANCE ?? 'app';
const secrets = (process.env.SESSION_SECRETS ?? '').split(',').filter(Boolean);
if (secrets.length === 0) {
  console.error('Set SESSION_SECRETS (comma-separated; the first signs, all verify).');
  process.exit(1);
}

const reconnectStrategy = (retries: number) => Math.min(100 * 2 ** retries, 2000);
const redis = createClient({
  // Fail fast while Redis is down (requests degrade) instead of queueing commands forever.
  disableOfflineQueue: true,
  ...(redisUrl.startsWith('unix://')
    ? { socket: { path: redisUrl.slice('unix://'.length), reconnectStrategy } }
    : { url: redisUrl, socket: { reconnectStrategy, connectTimeout: 2000 } }),
});
// node-redis requires an error listener; the library logs its own degraded-mode warnings.
redis.on('error', () => undefined);

const claimsTtlMs = process.env.CLAIMS_TTL_MS ? Number(process.env.CLAIMS_TTL_MS) : undefined;

async function main(): Promise<void> {
  await redis.connect();
  // Only with the variable set does the clock-moving route exist (the test of the example sets it).
  const test = process.env[TEST_CLOCK_ENV] === '1' ? testClock() : undefined;
  const { app, sso } = createInstanceApp({
    redis,
    instance,
    sessionSecrets: secrets,
    behindProxy: process.env.BEHIND_PROXY === 'true',
    // CLAIMS_TTL_MS: how soon role changes in the Application Portal reach the app (default 30 min).
    sso: claimsTtlMs === undefined ? {} : { claimsTtlMs },
    ...(test ? { clock: test.clock } : {}),
  });
  if (test) app.post(TEST_CLOCK_PATH, test.advance);
  const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    if (process.send) process.send({ ready: true, port });
    else console.log(`${instance} listening on port ${port}`);
  });
  const stop = () => {
    server.closeAllConnections();
    server.close();
    void sso.close().finally(() => redis.close().finally(() => process.exit(0)));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
