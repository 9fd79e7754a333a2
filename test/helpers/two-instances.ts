/**
 * Two instances of examples/multi-instance as separate processes behind a round-robin proxy,
 * sessions and cache on one private Redis, signing in at one emulator: the set-up the
 * multi-instance tests share. The instances' clocks are moved by the tests instead of waiting
 * (examples/multi-instance/test-clock.ts).
 */
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import {
  startInstance,
  startRoundRobinProxy,
  type InstanceProcess,
} from '../../examples/multi-instance/processes.js';
import { TEST_CLOCK_ENV } from '../../examples/multi-instance/test-clock.js';
import { startRedis, type TestRedis } from './redis.js';

export interface TwoInstances {
  redis: TestRedis;
  emulator: CernSsoEmulator;
  proxy: Awaited<ReturnType<typeof startRoundRobinProxy>>;
  /** The environment the instances were started with (to start another one like them). */
  env: Record<string, string>;
  a: InstanceProcess;
  b: InstanceProcess;
  /** Stops the proxy, the instances, the emulator and Redis. */
  stop(): Promise<void>;
}

export interface TwoInstancesOptions {
  accessTokenTtlSec: number;
  client: Omit<Parameters<CernSsoEmulator['registerClient']>[0], 'redirectUris'>;
  /** Extra client registration (logout URIs) besides the callback through the proxy. */
  registration?: (proxyUrl: string) => Partial<Parameters<CernSsoEmulator['registerClient']>[0]>;
  sessionSecrets: string;
  /** Extra environment of the instances. */
  env?: Record<string, string>;
}

export async function startTwoInstances(options: TwoInstancesOptions): Promise<TwoInstances> {
  const redis = await startRedis();
  const emulator = await startCernSsoEmulator({ accessTokenTtlSec: options.accessTokenTtlSec });
  let ports: number[] = [];
  const proxy = await startRoundRobinProxy(() => ports);
  emulator.registerClient({
    ...options.client,
    redirectUris: [`${proxy.url}/oidc/callback`],
    ...options.registration?.(proxy.url),
  });
  const env = {
    REDIS_URL: `unix://${redis.socket}`,
    SESSION_SECRETS: options.sessionSecrets,
    CERN_SSO_CLIENT_ID: options.client.clientId,
    CERN_SSO_CLIENT_SECRET: options.client.clientSecret,
    CERN_SSO_BASE_URL: proxy.url,
    CERN_SSO_ISSUER: emulator.issuer,
    CERN_SSO_AUTHZ_API_URL: emulator.authzApiUrl,
    ...options.env,
    [TEST_CLOCK_ENV]: '1',
  };
  const [a, b] = await Promise.all([startInstance('a', env), startInstance('b', env)]);
  ports = [a.port, b.port];
  return {
    redis,
    emulator,
    proxy,
    env,
    a,
    b,
    async stop() {
      proxy.server.close();
      await Promise.all([a.stop(), b.stop()]);
      await emulator.close();
      await redis.stop();
    },
  };
}
