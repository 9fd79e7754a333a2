import * as client from 'openid-client';
import { clockNow, type ResolvedSsoConfig } from '../config.js';
import { createEventEmitter, type EmitEvent } from '../events.js';
import type { OidcDiscovery } from './discovery.js';
import { createRedirectCheck, type RedirectCheck } from './redirect-check.js';
import type { SignedIn } from './session-data.js';
import { createGroupSets } from './group-names.js';
import { createSessionRecords, type SessionRecords } from './session-records.js';
import { sessionStoreTokens } from './token-store.js';

/** What the auth routes and `req.sso` need from the identity provider. */
export interface GroupSource {
  getUserGroups(login: string): Promise<string[]>;
  exchangeToken(subjectToken: string, audience: string): Promise<string>;
  seedUserGroups?(login: string, groups: string[]): Promise<void>;
}

/** Shared state of one `cernSso()` instance. */
export interface AuthRuntime {
  config: ResolvedSsoConfig;
  discovery: OidcDiscovery;
  identity: GroupSource;
  /** Path part of `baseUrl` ('' when the app is at the root of its host). */
  basePath: string;
  /** Absolute redirect URI registered in the Application Portal. */
  callbackUrl: string;
  /** Whether Keycloak accepts `callbackUrl` (asked at most every 30 s, when a login starts). */
  redirectCheck: RedirectCheck;
  /** Refreshes in flight, by session id: one refresh per session at a time. */
  refreshes: Map<string, Promise<SignedIn | undefined>>;
  /** Tokens and claims of signed-in sessions, in the `tokenStore` (default: the session store). */
  records: SessionRecords;
  /** `groups` claims as sets of lower-case names (with `cernUsersGroup`'s alias), memoised. */
  claimGroupSets: (groups: readonly unknown[]) => ReadonlySet<string>;
  /**
   * The clock (ms since the epoch) of every expiry and timestamp of sign-ins: token expiry and
   * refresh decisions, login cookie expiry, record lifetimes, logout markers. The `clock` option,
   * else `Date.now()` read at each call (so fake timers drive it).
   */
  now: () => number;
  /** The `onEvent` listener's emitter (a no-op without one); `at` by {@link now}. */
  emit: EmitEvent;
}

/** An app-relative path as an absolute path on this origin (adds the `baseUrl` path). */
export function appPath(runtime: AuthRuntime, path: string): string {
  return `${runtime.basePath}${path}`;
}

/** After an outage, the redirect URI is asked about again this soon (as discovery is). */
const REDIRECT_CHECK_RETRY_MS = 2000;

/**
 * The authorization URL of a login: code flow with PKCE S256, fresh `state` and `nonce`, for the
 * configured redirect URI. `extra` are the caller's pass-through parameters.
 */
export async function authorizationUrl(
  config: client.Configuration,
  redirectUri: string,
  scope: string,
  codeVerifier: string,
  extra: Record<string, string> & { state?: string; nonce?: string } = {},
): Promise<URL> {
  return client.buildAuthorizationUrl(config, {
    state: client.randomState(),
    nonce: client.randomNonce(),
    ...extra,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  });
}

export function createRuntime(
  config: ResolvedSsoConfig,
  discovery: OidcDiscovery,
  identity: GroupSource,
): AuthRuntime {
  const base = new URL(config.baseUrl);
  const basePath = base.pathname.replace(/\/+$/, '');
  const callback = config.routes.callback === false ? '/oidc/callback' : config.routes.callback;
  const callbackUrl = `${config.baseUrl}${callback}`;
  const now = clockNow(config.clock);
  return {
    config,
    discovery,
    identity,
    basePath,
    callbackUrl,
    redirectCheck: createRedirectCheck({
      callbackUrl,
      clientId: config.clientId,
      authorizationUrl: async () =>
        authorizationUrl(await discovery.get(), callbackUrl, config.scope, client.randomPKCECodeVerifier()),
      httpTimeoutMs: config.httpTimeoutMs,
      logger: config.logger,
      retryDelayMs: REDIRECT_CHECK_RETRY_MS,
      now,
    }),
    refreshes: new Map(),
    records: config.tokenStore
      ? createSessionRecords(config.logger, config.tokenStore, 'Token store', now)
      : createSessionRecords(config.logger, sessionStoreTokens(), 'Session store', now),
    claimGroupSets: createGroupSets(config.cernUsersGroup),
    now,
    emit: createEventEmitter(config.onEvent, config.logger, now),
  };
}
