/**
 * `npm run demo`: the basic example app against the embedded CERN SSO emulator. Nothing else
 * needed: no CERN account, no registration. PORT overrides the app's port (default 3000).
 */
import { randomBytes } from 'node:crypto';
import { DEMO_PASSWORD, demoClient, startCernSsoEmulator } from 'express-cern-sso/testing';
import { createBasicApp } from './basic/app.js';

const port = Number(process.env.PORT ?? 3000);
const baseUrl = `http://localhost:${port}`;

async function main(): Promise<void> {
  const emulator = await startCernSsoEmulator({ port: Number(process.env.EMULATOR_PORT ?? 0) });
  emulator.registerClient({
    ...demoClient,
    redirectUris: [`${baseUrl}/oidc/callback`],
    postLogoutRedirectUris: [`${baseUrl}/*`],
  });
  const { app, sso } = createBasicApp({
    sessionSecret: randomBytes(32).toString('hex'),
    sso: {
      clientId: demoClient.clientId,
      clientSecret: demoClient.clientSecret,
      baseUrl,
      issuer: emulator.issuer,
      authzApiUrl: emulator.authzApiUrl,
      cernUsersGroup: 'cern-users-demo',
    },
  });
  const server = app.listen(port, '127.0.0.1', () => {
    console.log(`
  express-cern-sso demo

  App:        ${baseUrl}
  CERN SSO:   ${emulator.issuer} (local emulator)

  Log in as:  jdoe / ${DEMO_PASSWORD}     (a CERN staff member)
              admin1 / ${DEMO_PASSWORD}   (member of it-dep-admins)
              guest-anna / ${DEMO_PASSWORD} (a guest without a CERN person id)

  Ctrl+C to stop.
`);
  });
  server.on('error', (error) => {
    console.error(`Cannot listen on port ${port}: ${error.message}. Set PORT to another port.`);
    process.exit(1);
  });
  const stop = () => {
    server.close();
    void Promise.all([sso.close(), emulator.close()]).then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
