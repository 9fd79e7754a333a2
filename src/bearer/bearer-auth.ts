import type { RequestHandler } from 'express';
import type { InternalContext } from '../context.js';
import { notAuthenticated } from '../errors.js';
import { answerGuardFailure } from '../guards/guard-failure.js';
import { toCernSsoError } from '../respond.js';
import { anonymousContext } from './anonymous-context.js';
import { BearerContext } from './bearer-context.js';
import { sendBearerError } from './errors.js';
import { authorizationValue, bearerCandidate, bearerTokenOf } from './header.js';
import { bearerScopes } from './issuer-choice.js';
import type { VerifiedToken } from './jwt.js';
import { resolveBearerConfig, type BearerAuthOptions } from './options.js';

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
 *   `WWW-Authenticate: Bearer` challenge (RFC 6750 §3.1); with `optional: true`, the request
 *   goes on with the `req.sso` already set (a `cernSso()` session) or an anonymous one, so one
 *   route serves sessions and tokens. A malformed `Bearer` header or a bad token is still 400/401.
 * - Trusted issuers: the `issuer` option; else the issuer of the `cernSso()` that set `req.sso`
 *   before it (per request); else env `CERN_SSO_ISSUER`; else CERN's. A token of another issuer
 *   is a 401 naming the expected issuer(s) and its (sanitised) `iss`.
 * - JWTs: the unverified `iss` must be a trusted issuer before anything is fetched; then the
 *   signature (issuer's JWKS, allowed algorithms only), exact `iss`, `aud` (one of `audience`),
 *   `exp` (required) and `nbf` with `clockToleranceSec`, `typ` (access tokens only: ID, refresh
 *   and logout tokens are refused) and the `azp` allow-list. Any failure: 401 `invalid_token`
 *   with an `error_description` saying what is wrong (never echoing the token).
 * - The issuer's discovery and JWKS are those of the process-wide issuer registry, shared
 *   with `cernSso()`, identity providers and back-channel logout of the same issuer. An unknown
 *   `kid` (key rotation) refetches the JWKS at most once per `jwksCooldownMs`; a request arriving
 *   inside the cool-down waits for the next allowed refetch (shared), so a freshly rotated key
 *   is accepted and forged `kid`s cost nothing more.
 * - Opaque tokens (or every token with `introspect: 'always'`): RFC 7662 introspection, only
 *   when the app chose it in these options (`clientId`/`clientSecret`, or `introspect`):
 *   credentials in the environment alone never switch it on. New tokens are introspected at most
 *   `introspectionsPerSecond` a second (bursts of twice that); beyond, 503 with `Retry-After`.
 * - The issuer's discovery, JWKS or introspection endpoint unreachable or failing: 503 with
 *   `Retry-After` (the issuer's own, bounded), never a 401. An issuer that does not exist
 *   (discovery 404, a document for another issuer) or an introspection endpoint refusing
 *   `clientId`/`clientSecret`: 500 `ERR_IDP_MISCONFIGURED`, logged as an error naming the URL
 *   and the option to fix.
 * - `req.sso.user.issuer` is the token's `iss`. The AuthZ API (groups of a token without a
 *   `groups` claim) and token exchange serve only tokens of the identity provider's own issuer;
 *   users of the other trusted issuers have their token's `groups` claim, or no groups.
 * - Valid tokens are cached (by SHA-256, never the token itself) until `exp`, so hot APIs verify
 *   each token once; a keep-alive connection also remembers the last valid token it carried
 *   (compared exactly, gone with the connection), so a client's next requests skip the hash.
 *   Tokens refused by introspection are remembered for 30 s, so repeated bad tokens cost one call.
 *
 * @throws CernSsoError `ERR_CONFIG` listing every invalid option (at construction).
 */
export function bearerAuth(options: BearerAuthOptions): RequestHandler {
  const config = resolveBearerConfig(options);
  const scopeOf = bearerScopes(config);

  return (req, res, next) => {
    const previous = (req as { sso?: InternalContext }).sso;
    const scope = scopeOf(previous);
    let candidate: string | undefined;
    let verified: VerifiedToken | undefined;
    let token: string | undefined;
    try {
      const value = authorizationValue(req);
      if (value !== undefined) {
        // A token verified before (found by SHA-256 in the cache, or the last one of this
        // connection) passed every check of its header when first seen: accepted synchronously,
        // as a session's request is (no promise layers).
        candidate = bearerCandidate(value);
        verified = candidate === undefined ? undefined : scope.validator.cached(candidate, req.socket);
        if (verified === undefined) token = bearerTokenOf(value);
      }
    } catch (error) {
      sendBearerError(req, res, toCernSsoError(error), config.logger, scope.emit);
      return;
    }
    if (candidate !== undefined && verified !== undefined) {
      req.sso = new BearerContext(candidate, verified.claims, scope);
      next();
      return;
    }
    if (token === undefined) {
      if (config.optional) {
        // Not ours (RFC 6750): the session (or anonymous) context stays; guards decide.
        req.sso = previous ?? anonymousContext(config.logger, scope.emit);
        next();
        return;
      }
      sendBearerError(
        req,
        res,
        notAuthenticated('an access token is required (Authorization: Bearer)', {
          'WWW-Authenticate': 'Bearer',
        }),
        config.logger,
        scope.emit,
      );
      return;
    }
    const bearer = token;
    scope.validator
      .validate(bearer)
      .then(
        (result) => {
          req.sso = new BearerContext(bearer, result.claims, scope);
          next();
        },
        (error: unknown) => {
          const failure = toCernSsoError(error);
          if (failure.status === 401) {
            config.logger.debug({ code: failure.code, reason: failure.message }, 'bearerAuth: token refused');
          }
          sendBearerError(req, res, failure, config.logger, scope.emit);
        },
      )
      .catch((error: unknown) => {
        // Never an unhandled rejection nor a request left unanswered.
        answerGuardFailure(req, res, 'bearerAuth()', error, config.logger);
      });
  };
}
