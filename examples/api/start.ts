/**
 * `npm run demo:api`: the REST API example against the embedded emulator, with curl lines to try.
 * PORT overrides the API's port (default 4000).
 */
import { createIdentityProvider } from 'express-cern-sso';
import { startCernSsoEmulator } from 'express-cern-sso/testing';
import { createApiApp } from './app.js';

const AUDIENCE = 'demo-api';

async function main(): Promise<void> {
  const port = Number(process.env.PORT ?? 4000);
  const emulator = await startCernSsoEmulator();
  // The API's own registration (for the AuthZ API), and a client that calls it.
  emulator.registerClient({ clientId: AUDIENCE, clientSecret: 'demo-api-secret', redirectUris: [] });
  emulator.registerClient({
    clientId: 'api-client',
    clientSecret: 'api-client-secret',
    redirectUris: [],
    accessTokenAudience: [AUDIENCE],
    roles: { 'service-account-api-client': ['reader'] },
  });
  const identity = createIdentityProvider({
    clientId: AUDIENCE,
    clientSecret: 'demo-api-secret',
    issuer: emulator.issuer,
    authzApiUrl: emulator.authzApiUrl,
  });
  const app = createApiApp({ issuer: emulator.issuer, audience: AUDIENCE, identity });
  const admin = await emulator.issueAccessToken('admin1', { audience: AUDIENCE, expiresInSec: 3600 });
  const server = app.listen(port, '127.0.0.1', () => {
    const api = `http://localhost:${port}`;
    console.log(`
  express-cern-sso REST API example: ${api}   (CERN SSO emulator: ${emulator.issuer})

  # a service's token (client credentials), then the API:
  TOKEN=$(curl -s -u api-client:api-client-secret -d grant_type=client_credentials \\
    ${emulator.issuer}/protocol/openid-connect/token | node -p 'JSON.parse(require("fs").readFileSync(0)).access_token')
  curl -H "Authorization: Bearer $TOKEN" ${api}/api/whoami
  curl -H "Authorization: Bearer $TOKEN" ${api}/api/reports          # role "reader": 200
  curl -H "Authorization: Bearer $TOKEN" ${api}/api/admin/stats      # not in it-dep-admins: 403
  curl -i ${api}/api/whoami                                            # no token: 401

  # a user's token (admin1, member of it-dep-admins, valid 1 h):
  ADMIN_TOKEN=${admin}
  curl -H "Authorization: Bearer $ADMIN_TOKEN" ${api}/api/admin/stats

  Ctrl+C to stop.
`);
  });
  process.on('SIGINT', () => {
    server.close();
    void Promise.all([identity.close(), emulator.close()]).then(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
