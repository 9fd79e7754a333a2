import type { Request } from 'express';
import type { Logger } from './logger.js';

/** What an audit event of `onEvent` is about. */
export type CernSsoEventType =
  | 'login'
  | 'login_failed'
  | 'login_denied'
  | 'logout'
  | 'backchannel_logout'
  | 'access_denied'
  | 'refresh_failed'
  | 'session_expired'
  | 'upstream_unavailable';

/**
 * One audit event. Never a token, code, state, cookie or text from upstream: only the fields
 * below, each one a short string.
 */
export interface CernSsoEvent {
  readonly type: CernSsoEventType;
  /** When it happened, ISO 8601 in UTC (`2025-12-01T09:30:00.000Z`), by the `clock` option. */
  readonly at: string;
  /** The user's login, when known; always with `issuer` (a person is `(issuer, login)`). */
  readonly login?: string;
  /** The issuer of `login`'s token; present exactly when `login` is. */
  readonly issuer?: string;
  /** The request's path as received (`req.originalUrl` without its query: it may carry codes). */
  readonly path?: string;
  /**
   * Why, machine-friendly: the requirement of `access_denied` (`auth`, `role:admin`,
   * `group:it-dep`, ...), the library code of `login_failed`/`login_denied`/`refresh_failed`,
   * `absoluteTimeout`/`idleTimeout`/`idpSessionEnded`/`sessionGone`/`backchannelLogout` for
   * `session_expired`, `session`/`user` for `backchannel_logout`, the upstream for
   * `upstream_unavailable`.
   */
  readonly reason?: string;
}

/**
 * `onEvent(event)`: called synchronously where the event happens, not awaited. An audit sink
 * that writes somewhere slow should queue. A listener that throws, or returns a promise that
 * rejects, is logged as an error (with the event's type) and the request goes on.
 */
export type OnEvent = (event: CernSsoEvent) => void | Promise<void>;

/** The fields of an event that its emitter gives (`at` is the emitter's). */
export interface EventFields {
  login?: string | undefined;
  issuer?: string | undefined;
  path?: string | undefined;
  reason?: string | undefined;
}

/** Emits one event; does nothing without a listener. Never throws. */
export type EmitEvent = (type: CernSsoEventType, fields?: EventFields) => void;

/** Internal: the emitter of the `cernSso()`/`bearerAuth()` that set a `req.sso`. Not public API. */
export const kEmitEvent = Symbol('express-cern-sso.emitEvent');

/** Longest path put in an event (paths are what the client sent). */
const MAX_PATH = 1024;

/** `req.originalUrl` without its query string (which may carry a code, a state or a token), capped. */
export function eventPath(req: Pick<Request, 'originalUrl' | 'url'>): string {
  const url = req.originalUrl || req.url;
  const query = url.indexOf('?');
  return (query === -1 ? url : url.slice(0, query)).slice(0, MAX_PATH);
}

const noEvents: EmitEvent = () => undefined;

/**
 * The emitter of one `onEvent` listener. `now` is the library's clock (ms since the epoch).
 * The event is frozen and built from the known fields only, so nothing else can slip in.
 */
export function createEventEmitter(
  onEvent: OnEvent | undefined,
  logger: Logger,
  now: () => number,
): EmitEvent {
  if (!onEvent) return noEvents;
  const failed = (type: CernSsoEventType, error: unknown): void => {
    try {
      logger.error({ err: error, event: type }, 'onEvent listener failed');
    } catch {
      // A throwing logger must not break the request either.
    }
  };
  return (type, fields = {}) => {
    const event: { -readonly [K in keyof CernSsoEvent]: CernSsoEvent[K] } = {
      type,
      at: new Date(now()).toISOString(),
    };
    if (fields.login !== undefined && fields.issuer !== undefined) {
      event.login = fields.login;
      event.issuer = fields.issuer;
    }
    if (fields.path !== undefined) event.path = fields.path;
    if (fields.reason !== undefined) event.reason = fields.reason;
    try {
      const result: unknown = onEvent(Object.freeze(event));
      if (typeof (result as { then?: unknown } | null)?.then === 'function') {
        (result as Promise<unknown>).then(undefined, (error: unknown) => {
          failed(type, error);
        });
      }
    } catch (error) {
      failed(type, error);
    }
  };
}

/** What events need of a `req.sso` (structural: this module imports no context). */
interface EventSource {
  readonly user?: { login: string; issuer: string } | undefined;
  readonly [kEmitEvent]?: EmitEvent | undefined;
}

/** The emitter behind a `req.sso`, or one that does nothing. */
export function emitterOf(context: unknown): EmitEvent {
  return (context as EventSource | undefined)?.[kEmitEvent] ?? noEvents;
}

/** Emits an event about `req` with the emitter of its `req.sso` (path and user filled in). */
export function emitRequestEvent(req: Request, type: CernSsoEventType, fields: EventFields = {}): void {
  const context = (req as { sso?: EventSource }).sso;
  const emit = emitterOf(context);
  if (emit === noEvents) return;
  let user: { login: string; issuer: string } | undefined;
  try {
    user = context?.user;
  } catch {
    user = undefined;
  }
  const login = fields.login ?? user?.login;
  emit(type, {
    login,
    issuer: fields.login === undefined ? user?.issuer : fields.issuer,
    path: fields.path ?? eventPath(req),
    reason: fields.reason,
  });
}

/** Which upstream an `ERR_UPSTREAM_UNAVAILABLE` message names, by the library's own wording. */
const UPSTREAMS: readonly (readonly [RegExp, string])[] = [
  [/^(Session|Token) store\b/, 'sessionStore'],
  [/^Too many new tokens\b/, 'introspectionRateLimit'],
  [/^(The CERN login service|The token issuer|Token refresh|token exchange)/i, 'identityProvider'],
  [
    /^(The CERN Authorization Service|Authorization Service API|groups of|identity of|members of|(user|group) search)/,
    'authzApi',
  ],
];

/**
 * The `reason` of an `upstream_unavailable` event: `identityProvider` (Keycloak: discovery,
 * JWKS, token, introspection), `authzApi`, `sessionStore` (or token store),
 * `introspectionRateLimit`, else `upstream`. Read from the library's own message, never
 * from anything upstream said.
 */
export function upstreamName(message: string): string {
  for (const [pattern, name] of UPSTREAMS) if (pattern.test(message)) return name;
  return 'upstream';
}
