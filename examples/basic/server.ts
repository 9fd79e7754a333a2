/**
 * The basic example against the real CERN SSO. Register the app in the CERN Application Portal
 * with redirect URI `${CERN_SSO_BASE_URL}/oidc/callback`, then:
 *   CERN_SSO_CLIENT_ID=... CERN_SSO_CLIENT_SECRET=... CERN_SSO_BASE_URL=https://myapp.web.cern.ch \
 *   SESSION_SECRET=... node --import tsx examples/basic/server.ts
 */
import { createBasicApp } from './app.js';

const sessionSecret = process.env.SESSION_SECRET;
if (!sessionSecret) {
  console.error('Set SESSION_SECRET (a long random string) to run this example.');
  process.exit(1);
}
const { app } = createBasicApp({ sessionSecret, behindProxy: process.env.BEHIND_PROXY === 'true' });
const port = Number(process.env.PORT ?? 3000);
app.listen(port, () => {
  console.log(`Listening on port ${port}`);
});
