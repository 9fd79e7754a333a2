/**
 * `npm run demo`: the basic example app against the embedded CERN SSO emulator. Nothing else
 * needed: no CERN account, no registration. PORT overrides the app's port (default 3000),
 * EMULATOR_PORT the emulator's (default: a free one).
 */
import { DEMO_PASSWORD, demoClient } from 'express-cern-sso/testing';
import { startDemo, type Demo } from './start-demo.js';

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`${name} must be a port number (0-65535), got "${raw}".`);
    process.exit(1);
  }
  return port;
}

const port = portFromEnv('PORT', 3000);
const emulatorPort = portFromEnv('EMULATOR_PORT', 0);

async function main(): Promise<void> {
  let demo: Demo;
  try {
    demo = await startDemo({ port, emulatorPort, log: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      const which = emulatorPort !== 0 && (error as { port?: number }).port === emulatorPort;
      console.error(
        which
          ? `Port ${emulatorPort} (EMULATOR_PORT) is already in use. Stop what runs there or set EMULATOR_PORT to another port.`
          : `Port ${port} is already in use. Stop what runs there or start the demo on another port: PORT=3001 npm run demo`,
      );
      process.exit(1);
    }
    throw error;
  }
  console.log(`
  express-cern-sso demo

  App:        ${demo.url}
  CERN SSO:   ${demo.emulator.issuer} (local emulator)

  Log in as:  jdoe / ${DEMO_PASSWORD}        (a CERN staff member)
              admin1 / ${DEMO_PASSWORD}      (member of it-dep-admins)
              guest-anna / ${DEMO_PASSWORD}  (a guest without a CERN person id)

  CLI:        CERN_SSO_ISSUER=${demo.emulator.issuer} \\
              CERN_SSO_AUTHZ_API_URL=${demo.emulator.authzApiUrl} \\
              CERN_SSO_CLIENT_ID=${demoClient.clientId} CERN_SSO_CLIENT_SECRET=${demoClient.clientSecret} \\
              node --import tsx src/cli/main.ts groups jdoe

  Ctrl+C to stop.
`);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      // A second Ctrl+C: do not wait for anything.
      process.exit(130);
    }
    stopping = true;
    console.log(`\n  ${signal}: stopping the demo…`);
    demo.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
