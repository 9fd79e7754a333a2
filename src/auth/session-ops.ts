import type { Request } from 'express';
import { CernSsoError, sessionMissing, upstreamUnavailable } from '../errors.js';

/** A call of express-session's callback API (session or store) as a promise of its value. */
export function callStore<T = void>(run: (done: (error?: unknown, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    run((error, value) => {
      if (error) reject(error instanceof Error ? error : new Error('session store error'));
      else resolve(value as T);
    });
  });
}

const promisify = (run: (done: (error?: unknown) => void) => void): Promise<void> => callStore(run);

export function requireSession(req: Request): NonNullable<Request['session']> {
  // express-session types `req.session` as always present; at run time it is not when the
  // middleware is missing or failed to load the session (e.g. store down).
  const session = (req as { session?: Request['session'] }).session;
  if (!session) throw sessionMissing();
  return session;
}

/** A session store that fails to write (Redis down) is an outage: 503 with Retry-After, not a 500. */
const storeWrite = (run: (done: (error?: unknown) => void) => void): Promise<void> =>
  promisify(run).catch((error: unknown) => {
    throw error instanceof CernSsoError ? error : upstreamUnavailable('Session store', error);
  });

export const saveSession = (req: Request): Promise<void> =>
  storeWrite((done) => requireSession(req).save(done));

export const regenerateSession = (req: Request): Promise<void> =>
  storeWrite((done) => requireSession(req).regenerate(done));

export const destroySession = (req: Request): Promise<void> =>
  storeWrite((done) => requireSession(req).destroy(done));

/**
 * Re-reads the session from the store (another instance may have changed it). Rejects with
 * express-session's own errors (the caller tells "gone" from "store down").
 */
export const reloadSession = (req: Request): Promise<void> =>
  promisify((done) => requireSession(req).reload(done));
