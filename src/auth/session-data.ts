import type {} from 'express-session';
import type { CernClaims } from './user.js';

/** A login in progress (one per browser tab), keyed by its `state`. */
export interface PendingLogin {
  codeVerifier: string;
  nonce: string;
  returnTo: string;
  createdAt: number;
}

/** Tokens of a signed-in session. They never leave the server. */
export interface SessionTokens {
  accessToken: string;
  /** Epoch ms; from the token response's `expires_in` (access tokens may be opaque). */
  accessTokenExpiresAt: number;
  refreshToken?: string;
  idToken: string;
  scope?: string;
}

/**
 * A signed-in session's tokens and identity. Kept in a record of its own in the session store
 * (see `session-records.ts`), not in the session: the session only holds {@link SessionPointer}.
 */
export interface SessionAuth {
  tokens: SessionTokens;
  claims: CernClaims;
  /** Keycloak session id (`sid`) and subject, for back-channel logout. */
  sid?: string;
  sub: string;
  loggedInAt: number;
}

/** What the library keeps in `req.session.cernSso` once a user is signed in. */
export interface SessionPointer {
  /** Id of the session's {@link SessionAuth} record in the session store. */
  ref: string;
}

/** A loaded sign-in: the record and its id. */
export interface SignedIn {
  ref: string;
  auth: SessionAuth;
}

declare module 'express-session' {
  interface SessionData {
    /** Signed-in state managed by express-cern-sso: a pointer to its record. */
    cernSso?: SessionPointer;
    /** Logins in progress managed by express-cern-sso, keyed by `state`. */
    cernSsoLogins?: Record<string, PendingLogin>;
  }
}

/** At most this many parallel logins (tabs) per session; the oldest are dropped. */
export const MAX_PENDING_LOGINS = 10;

/** Drops expired logins and keeps the newest `MAX_PENDING_LOGINS - 1`, leaving room for one more. */
export function prunePendingLogins(
  pending: Record<string, PendingLogin> | undefined,
  now: number,
  ttlMs: number,
): Record<string, PendingLogin> {
  const live = Object.entries(pending ?? {})
    .filter(([, login]) => now - login.createdAt < ttlMs)
    .sort(([, a], [, b]) => b.createdAt - a.createdAt)
    .slice(0, MAX_PENDING_LOGINS - 1);
  return Object.fromEntries(live);
}
