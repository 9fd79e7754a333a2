/**
 * Child process of the `vs-express-openid-connect` suite: the one OpenID Provider both libraries
 * sign in through, the CERN SSO emulator, in a process of its own so that its work during the
 * login benchmark (token signing, the SSO session of every login) is never charged to an app and
 * never competes with the load generator for an event loop.
 *
 * `BENCH_OP_LOGIN` (e.g. `jdoe`) is logged in without a form (autoLogin). Every client of
 * `BENCH_OP_CLIENTS` (JSON `[{ clientId, clientSecret }]`) is registered with redirect URIs on
 * any `http://localhost` port: the apps pick their ports after the OP started.
 * Sends {@link SsoOpReady} once ready; stops when the parent says so.
 */
import { startCernSsoEmulator } from '../../src/testing/index.js';
import { serveChild } from '../lib/child.js';

export interface SsoOpReady {
  issuer: string;
  authzApiUrl: string;
}

serveChild(async () => {
  const login = process.env.BENCH_OP_LOGIN ?? 'jdoe';
  const emulator = await startCernSsoEmulator({
    autoLogin: login,
    // Long enough that no access token expires (and no refresh starts) during a benchmark run.
    accessTokenTtlSec: 3600,
    refreshTokenTtlSec: 7200,
  });
  const clients = JSON.parse(process.env.BENCH_OP_CLIENTS ?? '[]') as {
    clientId: string;
    clientSecret: string;
  }[];
  for (const { clientId, clientSecret } of clients) {
    emulator.registerClient({
      clientId,
      clientSecret,
      redirectUris: ['http://localhost:*'],
      roles: { [login]: ['user'] },
    });
  }
  return {
    data: { issuer: emulator.issuer, authzApiUrl: emulator.authzApiUrl } satisfies SsoOpReady,
    close: () => emulator.close(),
  };
}, 420_000);
