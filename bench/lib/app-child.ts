/**
 * What every server child in `bench/children` needs: the compiled library, its settings from the
 * environment, and a server on 127.0.0.1 it can close.
 */
import type { Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import type { Express, RequestHandler } from 'express';
import session from 'express-session';
import type * as Library from '../../src/index.js';

/**
 * The compiled package, as users run it (`npm run bench` builds it first): sources run through
 * tsx carry its helpers (esbuild's `__name`) and would charge them to the library.
 * `BENCH_LIBRARY`: another build of the package (a suite's optional comparison side).
 */
export const loadLibrary = (): Promise<typeof Library> =>
  import(
    process.env.BENCH_LIBRARY === undefined
      ? new URL('../../dist/index.js', import.meta.url).href
      : pathToFileURL(process.env.BENCH_LIBRARY).href
  ) as Promise<typeof Library>;

/** The value of environment variable `name`; throws if it is unset or empty. */
export function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
}

/** `app` listening on a free port of 127.0.0.1. */
export function listen(app: Express): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(0, '127.0.0.1', (error?: Error) => {
      if (error) reject(error);
      else resolve(server);
    });
  });
}

/** Closes `server` now, keep-alive connections included. */
export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** The apps' express-session: cookie `app.sid`, no resave, nothing stored before sign-in unless asked. */
export function appSession(store: session.Store, saveUninitialized = false): RequestHandler {
  return session({
    name: 'app.sid',
    secret: 'bench-secret',
    resave: false,
    saveUninitialized,
    store,
    cookie: { httpOnly: true, sameSite: 'lax' },
  });
}
