/**
 * The demo as a function: the basic example app against the embedded CERN SSO emulator, both on
 * 127.0.0.1. `npm run demo` (examples/demo.ts) calls it; tests call it with `{ port: 0 }`.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock, OnEvent } from 'express-cern-sso';
import { demoClient, startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { createBasicApp } from './basic/app.js';

export interface StartDemoOptions {
  /** Port of the app; 0 (the default) picks a free one. */
  port?: number;
  /** Port of the emulator; 0 (the default) picks a free one. */
  emulatorPort?: number;
  /** Library warnings and errors to the console (default true); false silences them. */
  log?: boolean;
  /** Audit events (default: one console line each when `log` is on). */
  onEvent?: OnEvent;
  /** The app's clock (tests move it; default the system clock). */
  clock?: Clock;
}

/** One console line per audit event: what `onEvent` is for. */
const printEvent: OnEvent = (event) => {
  const who = event.login === undefined ? '' : ` ${event.login}`;
  const why = event.reason === undefined ? '' : ` (${event.reason})`;
  console.log(
    `  audit ${event.at} ${event.type}${who}${event.path === undefined ? '' : ` ${event.path}`}${why}`,
  );
};

export interface Demo {
  /** The app's URL, `http://localhost:PORT` (no trailing slash). */
  url: string;
  emulator: CernSsoEmulator;
  /** Stops the app and the emulator; safe to call more than once. */
  close(): Promise<void>;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function stopServer(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  const closed = new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  // Keep-alive connections (a browser's) would otherwise hold close() open.
  server.closeAllConnections();
  return closed;
}

/**
 * Starts the emulator, then the app on `http://localhost:PORT`, registered at the emulator as
 * `demo-app` with that redirect URI. Rejects (with everything stopped again) when a port is busy:
 * the error then has `code: 'EADDRINUSE'`.
 */
export async function startDemo(options: StartDemoOptions = {}): Promise<Demo> {
  const emulator = await startCernSsoEmulator({ port: options.emulatorPort ?? 0 });
  // The app's URL needs its port, known once listening: listen first, attach the app after.
  const server = createServer();
  let port: number;
  try {
    port = await listen(server, options.port ?? 0);
  } catch (error) {
    await emulator.close();
    throw error;
  }
  const url = `http://localhost:${port}`;
  emulator.registerClient({
    ...demoClient,
    redirectUris: [`${url}/oidc/callback`],
    postLogoutRedirectUris: [`${url}/*`],
  });
  const { app, sso } = createBasicApp({
    sessionSecret: randomBytes(32).toString('hex'),
    sso: {
      clientId: demoClient.clientId,
      clientSecret: demoClient.clientSecret,
      baseUrl: url,
      issuer: emulator.issuer,
      authzApiUrl: emulator.authzApiUrl,
      cernUsersGroup: 'cern-users-demo',
      ...(options.log === false ? { logger: {} } : {}),
      ...(options.onEvent !== undefined
        ? { onEvent: options.onEvent }
        : options.log === false
          ? {}
          : { onEvent: printEvent }),
      ...(options.clock !== undefined ? { clock: options.clock } : {}),
    },
  });
  server.on('request', app);

  let closing: Promise<void> | undefined;
  return {
    url,
    emulator,
    close() {
      closing ??= Promise.all([stopServer(server), sso.close(), emulator.close()]).then(() => undefined);
      return closing;
    },
  };
}
