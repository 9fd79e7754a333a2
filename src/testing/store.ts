import { randomBytes, randomUUID } from 'node:crypto';

/** An SSO session of the emulated realm (Keycloak's "user session"). */
export interface SsoSession {
  /** Session id: the `sid` / `session_state` of tokens. */
  readonly sid: string;
  readonly login: string;
  /** Seconds since epoch of the last interactive (or automatic) login. */
  authTime: number;
  /** `Date.now()` of the last use (login, code, refresh): the idle timeout counts from it. */
  lastActive: number;
  /** Value of the `KEYCLOAK_SESSION` cookie pointing at this session. */
  readonly cookie: string;
  /** Clients that obtained a code in this session (they get back-channel logouts). */
  readonly clients: Set<string>;
  /** The `acr` of the last authorization in this session (see `acr.ts`); tokens carry it. */
  acr?: string;
  /** Level of authentication reached in this session (with `acrLevels`). */
  loa?: number;
}

/** A validated authorization request (kept while the login form is shown, and in codes). */
export interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  scope: string;
  state: string | undefined;
  nonce: string | undefined;
  codeChallenge: string;
  prompt: ReadonlySet<string>;
  maxAge: number | undefined;
  loginHint: string | undefined;
  /** `acr_values`, split on spaces (empty when absent). */
  acrValues: readonly string[];
}

/** An authorization code: single use, 60 s. */
export interface AuthCode {
  readonly request: AuthorizationRequest;
  readonly sid: string;
  readonly login: string;
  readonly expiresAt: number;
  /** Tokens issued from this code share this grant id, so a code replay can revoke them all. */
  readonly grantId: string;
  used: boolean;
}

/** Server-side record of a refresh token (the token itself is a signed JWT carrying `jti`). */
export interface RefreshRecord {
  readonly jti: string;
  readonly grantId: string;
  readonly clientId: string;
  readonly login: string;
  readonly sid: string;
  readonly scope: string;
  readonly expiresAt: number;
  used: boolean;
}

/** A login form waiting for credentials. */
export interface PendingLogin {
  readonly id: string;
  readonly request: AuthorizationRequest;
  readonly expiresAt: number;
}

const CODE_TTL_MS = 60_000;
/** Keycloak's "login timeout" is 30 minutes. */
const PENDING_TTL_MS = 30 * 60_000;
/** Used codes are remembered a little longer than they live, to detect replays. */
const CODE_MEMORY_MS = 10 * 60_000;
const SWEEP_EVERY_MS = 10_000;

/**
 * The realm's mutable state: SSO sessions, codes, refresh tokens, pending logins, revocations.
 * Expired entries are swept lazily on writes, so no timer is needed.
 */
export class Store {
  private readonly sessions = new Map<string, SsoSession>();
  private readonly sessionsByCookie = new Map<string, string>();
  private readonly codes = new Map<string, AuthCode>();
  private readonly refreshTokens = new Map<string, RefreshRecord>();
  private readonly pending = new Map<string, PendingLogin>();
  /** jti → grant and expiry of access tokens bound to a code grant. */
  private readonly accessTokens = new Map<string, { grantId: string | undefined; expiresAt: number }>();
  private readonly revokedGrants = new Set<string>();
  private readonly revokedAccessTokens = new Set<string>();
  private lastSweep = 0;

  /** @param sessionIdleMs SSO session idle timeout (Keycloak's "SSO Session Idle"). */
  constructor(private readonly sessionIdleMs: () => number) {}

  // --- SSO sessions -------------------------------------------------------------------------

  createSession(login: string): SsoSession {
    this.sweep();
    const session: SsoSession = {
      sid: randomUUID(),
      login,
      authTime: Math.floor(Date.now() / 1000),
      lastActive: Date.now(),
      cookie: randomBytes(24).toString('base64url'),
      clients: new Set(),
    };
    this.sessions.set(session.sid, session);
    this.sessionsByCookie.set(session.cookie, session.sid);
    return session;
  }

  /** The session if it exists and is not idle for too long. */
  getSession(sid: string): SsoSession | undefined {
    const session = this.sessions.get(sid);
    if (!session) return undefined;
    if (Date.now() - session.lastActive > this.sessionIdleMs()) {
      this.endSession(sid);
      return undefined;
    }
    return session;
  }

  sessionByCookie(cookie: string): SsoSession | undefined {
    const sid = this.sessionsByCookie.get(cookie);
    return sid === undefined ? undefined : this.getSession(sid);
  }

  /** Active sessions, optionally of one login. */
  listSessions(login?: string): SsoSession[] {
    return [...this.sessions.keys()]
      .map((sid) => this.getSession(sid))
      .filter((s): s is SsoSession => s !== undefined && (login === undefined || s.login === login));
  }

  /** Ends a session; returns it (for back-channel logout) if it was active. */
  endSession(sid: string): SsoSession | undefined {
    const session = this.sessions.get(sid);
    if (!session) return undefined;
    this.sessions.delete(sid);
    this.sessionsByCookie.delete(session.cookie);
    return session;
  }

  // --- authorization codes ------------------------------------------------------------------

  createCode(request: AuthorizationRequest, session: SsoSession): string {
    this.sweep();
    // Keycloak codes look like `uuid.sessionId.uuid`.
    const code = `${randomUUID()}.${session.sid}.${randomUUID()}`;
    this.codes.set(code, {
      request,
      sid: session.sid,
      login: session.login,
      expiresAt: Date.now() + CODE_TTL_MS,
      grantId: randomUUID(),
      used: false,
    });
    return code;
  }

  getCode(code: string): AuthCode | undefined {
    return this.codes.get(code);
  }

  // --- pending logins -----------------------------------------------------------------------

  createPending(request: AuthorizationRequest): PendingLogin {
    this.sweep();
    const pending: PendingLogin = {
      id: randomBytes(18).toString('base64url'),
      request,
      expiresAt: Date.now() + PENDING_TTL_MS,
    };
    this.pending.set(pending.id, pending);
    return pending;
  }

  getPending(id: string): PendingLogin | undefined {
    const pending = this.pending.get(id);
    return pending && pending.expiresAt > Date.now() ? pending : undefined;
  }

  deletePending(id: string): void {
    this.pending.delete(id);
  }

  // --- tokens -------------------------------------------------------------------------------

  addRefreshToken(record: RefreshRecord): void {
    this.sweep();
    this.refreshTokens.set(record.jti, record);
  }

  getRefreshToken(jti: string): RefreshRecord | undefined {
    return this.refreshTokens.get(jti);
  }

  /** Remembers an access token's grant, so revoking the grant revokes the token. */
  addAccessToken(jti: string, grantId: string | undefined, expiresAt: number): void {
    this.sweep();
    this.accessTokens.set(jti, { grantId, expiresAt });
  }

  revokeGrant(grantId: string): void {
    this.revokedGrants.add(grantId);
  }

  isGrantRevoked(grantId: string): boolean {
    return this.revokedGrants.has(grantId);
  }

  revokeAccessToken(jti: string): void {
    this.revokedAccessTokens.add(jti);
  }

  isAccessTokenRevoked(jti: string): boolean {
    if (this.revokedAccessTokens.has(jti)) return true;
    const grantId = this.accessTokens.get(jti)?.grantId;
    return grantId !== undefined && this.revokedGrants.has(grantId);
  }

  /** Drops what expired, at most every few seconds. */
  private sweep(): void {
    const now = Date.now();
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    for (const [code, entry] of this.codes) {
      if (entry.expiresAt + CODE_MEMORY_MS < now) this.codes.delete(code);
    }
    for (const [id, entry] of this.pending) if (entry.expiresAt < now) this.pending.delete(id);
    for (const [jti, entry] of this.refreshTokens) if (entry.expiresAt < now) this.refreshTokens.delete(jti);
    for (const [jti, entry] of this.accessTokens) {
      if (entry.expiresAt < now) {
        this.accessTokens.delete(jti);
        this.revokedAccessTokens.delete(jti);
      }
    }
    for (const sid of this.sessions.keys()) this.getSession(sid);
  }
}
