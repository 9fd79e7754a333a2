import type { Request, RequestHandler } from 'express';
import { createGroupSets } from '../auth/group-names.js';
import { kIdentity, kIssuer, type ContextIdentity, type InternalContext } from '../context.js';
import { notAuthenticated } from '../errors.js';
import { answerGuardFailure } from '../guards/guard-failure.js';
import { toCernSsoError } from '../respond.js';
import { anonymousContext } from './anonymous-context.js';
import { BearerContext, type BearerSettings } from './bearer-context.js';
import { sendBearerError } from './errors.js';
import { authorizationValue, bearerCandidate, bearerTokenOf } from './header.js';
import { eventEmitters, inheritedIssuer, validators } from './issuer-choice.js';
import type { VerifiedToken } from './jwt.js';
import { resolveBearerConfig, type BearerAuthOptions } from './options.js';

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
  const validatorOf = validators(config);
  const emitterFor = eventEmitters(config);
  const settings: BearerSettings = {
    logger: config.logger,
    now: config.now,
    cernUsersGroup: config.cernUsersGroup,
    claimGroupSets: createGroupSets(config.cernUsersGroup),
  };

  return (req, res, next) => {
    const emit = emitterFor(req);
    const { validator, issuers } = validatorOf(inheritedIssuer(req));
    const accept = (token: string, { claims }: VerifiedToken): void => {
      const { identity, identityIssuer } = identityOf(req, config.identity, issuers);
      req.sso = new BearerContext(token, claims, identity, identityIssuer, emit, settings);
      next();
    };
    let token: string | undefined;
    let known: { token: string; verified: VerifiedToken } | undefined;
    try {
      const value = authorizationValue(req);
      // A token verified before (found by SHA-256 in the cache, or the last one of this
      // connection) passed every check of its header when first seen: accepted synchronously, as
      // a session's request is (no promise layers).
      const candidate = value === undefined ? undefined : bearerCandidate(value);
      const verified = candidate === undefined ? undefined : validator.cached(candidate, req.socket);
      if (candidate !== undefined && verified !== undefined) known = { token: candidate, verified };
      else token = value === undefined ? undefined : bearerTokenOf(value);
    } catch (error) {
      sendBearerError(req, res, toCernSsoError(error), config.logger, emit);
      return;
    }
    if (known) {
      accept(known.token, known.verified);
      return;
    }
    if (token === undefined) {
      if (config.optional) {
        // Not ours (RFC 6750): the session (or anonymous) context stays; guards decide.
        (req as { sso?: InternalContext }).sso ??= anonymousContext(config.logger, emit);
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
        emit,
      );
      return;
    }
    const bearer = token;
    validator
      .validate(bearer)
      .then(
        (verified) => {
          accept(bearer, verified);
        },
        (error: unknown) => {
          const failure = toCernSsoError(error);
          if (failure.status === 401) {
            config.logger.debug({ code: failure.code, reason: failure.message }, 'bearerAuth: token refused');
          }
          sendBearerError(req, res, failure, config.logger, emit);
        },
      )
      .catch((error: unknown) => {
        // Never an unhandled rejection nor a request left unanswered.
        answerGuardFailure(req, res, 'bearerAuth()', error, config.logger);
      });
  };
}
