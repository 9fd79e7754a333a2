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
  }
}
