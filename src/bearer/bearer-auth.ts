import type { Request, RequestHandler } from 'express';
import { kIdentity, kIssuer, type ContextIdentity, type InternalContext } from '../context.js';
import { CernSsoError } from '../errors.js';
import { answerGuardFailure } from '../guards/guard-failure.js';
import { toCernSsoError } from '../respond.js';
import { createBearerContext } from './bearer-context.js';
import { sendBearerError } from './errors.js';
import { readBearerToken } from './header.js';
import { createIssuerRegistry } from './issuers.js';
import { resolveBearerConfig, type BearerAuthOptions } from './options.js';
import { createTokenValidator } from './validator.js';

/**
 * The identity provider for this request (the configured one, else the one of a `cernSso()`
 * mounted before) and the issuer whose users it knows: the provider's own, else the one of the
 * `cernSso()` it comes from, else, for a provider that does not say, the only trusted issuer
 * (with several, none: no AuthZ lookups).
 */
function identityOf(
  req: Request,
  configured: ContextIdentity | undefined,
  issuers: readonly string[],
): { identity: ContextIdentity | undefined; identityIssuer: string | undefined } {
  const previous = (req as { sso?: InternalContext }).sso;
  const identity = configured ?? previous?.[kIdentity];
  const inherited =
    identity !== undefined && identity === previous?.[kIdentity] ? previous[kIssuer] : undefined;
  const identityIssuer = identity?.[kIssuer] ?? inherited ?? (issuers.length === 1 ? issuers[0] : undefined);
  return { identity, identityIssuer };
}

/** Not public: what tests inject. */
export interface BearerAuthInternals {
  /** The clock of caches, cool-downs and the introspection rate bound. Default `Date.now`. */
  now?: () => number;
}

/**
 * Protects API routes with OAuth 2.0 bearer access tokens (RFC 6750) issued by CERN's Keycloak
 * (or the configured issuers), and sets `req.sso` from the token so that `requireAuth()`,
 * `requireRole()`, `requireGroup()`, `requireClaim()` and `requireEntitlement()` work on APIs.
 *
 * ```ts
 * app.use('/api', bearerAuth({ audience: 'my-api' }));
 * app.get('/api/admin', requireGroup('it-dep-admins'), handler);
 * ```
 *
 * - Tokens are only read from the `Authorization: Bearer` header; an `access_token` in the URL
 *   or the body is a 400 `invalid_request`, as is a malformed, repeated or oversized header.
 * - No header, or credentials of another scheme (`Basic …`): 401 with a bare
 *   `WWW-Authenticate: Bearer` challenge (RFC 6750 §3.1).
 * - JWTs: the unverified `iss` must be a trusted issuer before anything is fetched; then the
 *   signature (issuer's JWKS, allowed algorithms only), exact `iss`, `aud` (one of `audience`),
 *   `exp` (required) and `nbf` with `clockToleranceSec`, `typ` (access tokens only: ID, refresh
 *   and logout tokens are refused) and the `azp` allow-list. Any failure: 401 `invalid_token`
 *   with an `error_description` saying what is wrong (never echoing the token).
 * - An unknown `kid` (key rotation) refetches the issuer's JWKS at most once per
 *   `jwksCooldownMs`; a request arriving inside the cool-down waits for the next allowed
 *   refetch (shared), so a freshly rotated key is accepted and forged `kid`s cost nothing more.
 * - Opaque tokens (or every token with `introspect: 'always'`): RFC 7662 introspection, only
 *   when the app chose it in these options (`clientId`/`clientSecret`, or `introspect`):
 *   credentials in the environment alone never switch it on. New tokens are introspected at most
 *   `introspectionsPerSecond` a second (bursts of twice that); beyond, 503 with `Retry-After`.
 * - The issuer's discovery, JWKS or introspection endpoint unreachable or failing: 503 with
 *   `Retry-After`, never a 401.
 * - `req.sso.user.issuer` is the token's `iss`. The AuthZ API (groups of a token without a
 *   `groups` claim) and token exchange serve only tokens of the identity provider's own issuer;
 *   users of the other trusted issuers have their token's `groups` claim, or no groups.
 * - Valid tokens are cached (by SHA-256) until `exp`, so hot APIs verify each token once; tokens
 *   refused by introspection are remembered for 30 s, so repeated bad tokens cost one call.
 *
 * @throws CernSsoError `ERR_CONFIG` listing every invalid option (at construction).
 */
export function bearerAuth(options: BearerAuthOptions, internals: BearerAuthInternals = {}): RequestHandler {
  const config = resolveBearerConfig(options);
  const now = internals.now ?? Date.now;
  const issuers = createIssuerRegistry({
    issuers: config.issuers,
    httpTimeoutMs: config.httpTimeoutMs,
    jwksCooldownMs: config.jwksCooldownMs,
    logger: config.logger,
    now,
  });
  const validator = createTokenValidator(config, issuers, now);

  return (req, res, next) => {
    let token: string | undefined;
    try {
      token = readBearerToken(req);
    } catch (error) {
      sendBearerError(req, res, toCernSsoError(error), config.logger);
      return;
    }
    if (token === undefined) {
      sendBearerError(
        req,
        res,
        new CernSsoError('ERR_NOT_AUTHENTICATED', 'an access token is required (Authorization: Bearer)', {
          status: 401,
          headers: { 'WWW-Authenticate': 'Bearer' },
        }),
        config.logger,
      );
      return;
    }
    const bearer = token;
    const { identity, identityIssuer } = identityOf(req, config.identity, config.issuers);
    validator
      .validate(bearer)
      .then(
        ({ claims }) => {
          req.sso = createBearerContext({
            token: bearer,
            claims,
            identity,
            identityIssuer,
            cernUsersGroup: config.cernUsersGroup,
            logger: config.logger,
          });
          next();
        },
        (error: unknown) => {
          const failure = toCernSsoError(error);
          if (failure.status === 401) config.logger.debug(`bearerAuth: token refused: ${failure.message}`);
          sendBearerError(req, res, failure, config.logger);
        },
      )
      .catch((error: unknown) => {
        // Never an unhandled rejection nor a request left unanswered.
        answerGuardFailure(req, res, 'bearerAuth()', error, config.logger);
      });
  };
}
