/**
 * `npm run demo:multi`: Redis, the CERN SSO emulator, two app instances (separate processes) and a
 * round-robin proxy in front of them, with one command. Log in through the proxy and watch the
 * `instance` field change between requests while the session stays.
 * Needs `redis-server` (Debian: apt-get install redis-server) unless REDIS_URL is set.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoClient, startCernSsoEmulator, DEMO_PASSWORD } from 'express-cern-sso/testing';
import { startInstance, startRoundRobinProxy } from './processes.js';

function startRedisServer(): { url: string; stop(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'cern-sso-redis-'));
  const socket = join(dir, 'redis.sock');
  const args = [
    '--port',
    '0',
    '--unixsocket',
    socket,
    '--daemonize',
    'yes',
    '--pidfile',
    join(dir, 'redis.pid'),
  ];
  const result = spawnSync('redis-server', [...args, '--dir', dir, '--save', '', '--appendonly', 'no']);
  if (result.error || result.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error('Could not start redis-server (apt-get install redis-server), or set REDIS_URL.');
  }
  return {
    url: `unix://${socket}`,
    stop: () => {
      spawnSync('redis-cli', ['-s', socket, 'shutdown', 'nosave']);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 3000);
  const redis = process.env.REDIS_URL
    ? { url: process.env.REDIS_URL, stop: () => undefined }
    : startRedisServer();
  const emulator = await startCernSsoEmulator();
  let ports: number[] = [];
  const proxy = await startRoundRobinProxy(() => ports, port);
  emulator.registerClient({
    ...demoClient,
    redirectUris: [`${proxy.url}/oidc/callback`],
    postLogoutRedirectUris: [`${proxy.url}/*`],
    backchannelLogoutUri: `${proxy.url}/oidc/backchannel-logout`,
  });
  const env = {
    REDIS_URL: redis.url,
    SESSION_SECRETS: randomBytes(32).toString('hex'),
    CERN_SSO_CLIENT_ID: demoClient.clientId,
    CERN_SSO_CLIENT_SECRET: demoClient.clientSecret,
    CERN_SSO_BASE_URL: proxy.url,
    CERN_SSO_ISSUER: emulator.issuer,
    CERN_SSO_AUTHZ_API_URL: emulator.authzApiUrl,
  };
  const instances = await Promise.all([startInstance('instance-a', env), startInstance('instance-b', env)]);
  ports = instances.map((instance) => instance.port);
  console.log(`
  express-cern-sso multi-instance example

  App (round-robin over 2 instances): ${proxy.url}
  Instances:  ${instances.map((i) => `${i.name} ${i.url}`).join(', ')}
  Redis:      ${redis.url}
  CERN SSO:   ${emulator.issuer} (local emulator)

  Log in:     ${proxy.url}/login?returnTo=/api/whoami   as jdoe / ${DEMO_PASSWORD}
  Then reload ${proxy.url}/api/whoami and watch "instance" alternate. Ctrl+C to stop.
`);
  const stop = () => {
    proxy.server.close();
    void Promise.all(instances.map((i) => i.stop()))
      .then(() => emulator.close())
      .finally(() => {
        redis.stop();
        process.exit(0);
      });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
