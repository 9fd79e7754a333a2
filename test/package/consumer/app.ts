// A consumer of the packed express-cern-sso, as an ESM TypeScript app would write it. The same
// file is type-checked and run against Express 4 (with @types/express@4) and Express 5 by
// test/package/consumers.test.ts: it prints one JSON line with what it observed.
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler } from 'express';
import session from 'express-session';
import { bearerAuth, cernSso, requireAuth, requireGroup, type CernUser } from 'express-cern-sso';
import { startCernSsoEmulator } from 'express-cern-sso/testing';

async function main(): Promise<void> {
  const sso = await startCernSsoEmulator();
  const app = express();
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const baseUrl = `http://localhost:${String((server.address() as AddressInfo).port)}`;
  sso.registerClient({
    clientId: 'consumer-app',
    clientSecret: 'consumer-secret',
    redirectUris: [`${baseUrl}/oidc/callback`],
  });

  app.use(session({ secret: 'consumer-session-secret', resave: false, saveUninitialized: false }));
  app.use(
    cernSso({
      clientId: 'consumer-app',
      clientSecret: 'consumer-secret',
      baseUrl,
      issuer: sso.issuer,
      authzApiUrl: sso.authzApiUrl,
    }),
  );
  app.get('/me', requireAuth(), (req, res) => {
    const user: CernUser | undefined = req.sso.user;
    res.json({ login: user?.login });
  });
  app.get('/it', requireGroup('it-dep'), (_req, res) => {
    res.send('it');
  });
  app.get('/api/whoami', bearerAuth({ audience: 'consumer-api' }), (req, res) => {
    res.json({ login: req.sso.user?.login });
  });
  // Express 4 types and Express 5 types both accept the library's error handler shape.
  const onError: ErrorRequestHandler = (error, _req, _res, next) => {
    next(error);
  };
  app.use(onError);

  try {
    const { cookie } = await sso.login({ baseUrl, login: 'jdoe' });
    const other = await sso.login({ baseUrl, login: 'mmartin' });
    const token = await sso.issueAccessToken('jdoe', { audience: 'consumer-api' });
    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(`${baseUrl}${path}`, { headers: { accept: 'application/json', ...headers } });
    const anonymous = await get('/me');
    const me = await get('/me', { cookie });
    const inGroup = await get('/it', { cookie });
    const notInGroup = await get('/it', { cookie: other.cookie });
    const bearer = await get('/api/whoami', { authorization: `Bearer ${token}` });
    console.log(
      JSON.stringify({
        anonymous: anonymous.status,
        me: [me.status, await me.json()],
        inGroup: inGroup.status,
        notInGroup: notInGroup.status,
        bearer: [bearer.status, await bearer.json()],
      }),
    );
  } finally {
    server.close();
    await sso.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
