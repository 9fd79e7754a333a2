// A CommonJS consumer of the packed express-cern-sso: require() of the package and of its
// testing kit (Node ^20.19 loads the ESM build through require), then one signed-in request.
// Run by test/package/consumers.test.ts; prints one JSON line.
'use strict';
const express = require('express');
const session = require('express-session');
const { cernSso, requireAuth, CernSsoError } = require('express-cern-sso');
const { startCernSsoEmulator } = require('express-cern-sso/testing');

async function main() {
  const sso = await startCernSsoEmulator();
  const app = express();
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const baseUrl = `http://localhost:${server.address().port}`;
  sso.registerClient({
    clientId: 'cjs-app',
    clientSecret: 'cjs-secret',
    redirectUris: [`${baseUrl}/oidc/callback`],
  });
  app.use(session({ secret: 'cjs-session-secret', resave: false, saveUninitialized: false }));
  app.use(
    cernSso({
      clientId: 'cjs-app',
      clientSecret: 'cjs-secret',
      baseUrl,
      issuer: sso.issuer,
      authzApiUrl: sso.authzApiUrl,
    }),
  );
  app.get('/me', requireAuth(), (req, res) => res.json({ login: req.sso.user.login }));
  let configError;
  try {
    cernSso({ clientId: '' });
  } catch (error) {
    configError = error instanceof CernSsoError ? error.code : String(error);
  }
  try {
    const { cookie } = await sso.login({ baseUrl, login: 'jdoe' });
    const me = await fetch(`${baseUrl}/me`, { headers: { cookie } });
    console.log(JSON.stringify({ me: [me.status, await me.json()], configError }));
  } finally {
    server.close();
    await sso.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
