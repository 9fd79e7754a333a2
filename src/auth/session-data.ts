import type {} from 'express-session';
import type { CernClaims } from './user.js';

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
  /** When the user signed in (the callback), epoch ms: the start of `absoluteTimeoutMs`. */
  loggedInAt: number;
  /**
   * When the claims were last obtained (a token refresh), epoch ms; absent: at `loggedInAt`.
   * Set by every refresh, also one that returned no ID token (so it is not tried at each request).
   */
  claimsAt?: number;
  /**
   * The `max_age` / `acr_values` this login asked Keycloak for (a step-up), absent otherwise:
   * `requireAuth({ maxAgeSec, acr })` answers 403 rather than loop when a step-up just done
   * still falls short.
   */
  askedFor?: { maxAge?: number; acrValues?: string };
}

/** What the library keeps in `req.session.cernSso` once a user is signed in. */
export interface SessionPointer {
  /** Id of the session's {@link SessionAuth} record in the session store. */
  ref: string;
  /**
   * Epoch ms of the session's last request, as of `idleTimeoutMs` (absent: the login); kept
   * coarse so that the session is not written at every request (see `session-lifetime.ts`).
   */
  seenAt?: number;
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
  }
}
