import { genericGrantRequest } from 'openid-client';
import type { OidcDiscovery } from '../auth/discovery.js';
import type { CachedLoader } from '../cache/cached-loader.js';
import { hashedCacheKey, sha256 } from '../cache/keys.js';
import { MISCONFIGURED, failureLogFields, mapUpstreamError, type OAuthRejection } from '../error-mapper.js';
import { badRequest, tokenExchangeFailed, type CernSsoError } from '../errors.js';
import type { Logger } from '../logger.js';
import { isCachedToken, usableUntil, type CachedToken } from './token-lifetime.js';
import { requireSearchValue } from './validation.js';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

export interface TokenExchangerOptions {
  discovery: OidcDiscovery;
  issuer: string;
  clientId: string;
  loader: CachedLoader;
  logger: Logger;
  /** Stop using an exchanged token this long before it expires. Default 30 000. */
  expiryMarginMs?: number;
  now?: () => number;
}

/** RFC 8693 token exchange at the realm's token endpoint. */
export type TokenExchanger = (subjectToken: string, audience: string) => Promise<string>;

const WHAT = 'The CERN token exchange endpoint';

/**
 * What an OAuth error of the token endpoint means for an exchange (a refused client was already
 * made a misconfiguration by the mapper). Keycloak answers an invalid, expired or revoked subject
 * token with `invalid_request` "Invalid token" (not `invalid_token`), as the differential suite
 * against Keycloak 26 shows.
 */
function rejectionError(rejection: OAuthRejection, audience: string, cause: unknown): CernSsoError {
  const detail = rejection.description === '' ? '' : `: ${rejection.description}`;
  const reason = `${rejection.error}${detail}`;
  const invalidToken = rejection.error === 'invalid_request' && rejection.description === 'Invalid token';
  switch (invalidToken ? 'invalid_token' : rejection.error) {
    case 'invalid_grant':
    case 'invalid_token':
      return tokenExchangeFailed(
        `The access token cannot be exchanged for audience "${audience}": it is invalid or expired (${reason})`,
        401,
        cause,
      );
    case 'access_denied':
    case 'unauthorized_client':
    case 'insufficient_scope':
      return tokenExchangeFailed(
        `Token exchange for audience "${audience}" is not allowed (${reason})`,
        403,
        cause,
      );
    default:
      return tokenExchangeFailed(
        `Token exchange for audience "${audience}" was refused (${reason})`,
        rejection.status === 403 ? 403 : 400,
        cause,
      );
  }
}

/**
 * Creates the token exchanger. Results are cached per (SHA-256 of the subject token, audience)
 * until their expiry minus the margin, so a request burst of one user costs one exchange;
 * concurrent identical exchanges share one request.
 */
export function createTokenExchanger(options: TokenExchangerOptions): TokenExchanger {
  const { discovery, loader, logger } = options;
  const now = options.now ?? Date.now;
  const marginMs = options.expiryMarginMs ?? 30_000;

  return async (subjectToken, audience) => {
    if (typeof subjectToken !== 'string' || subjectToken.trim() === '') {
      throw badRequest('exchangeToken', 'subjectToken must be a non-empty string');
    }
    const target = requireSearchValue('exchangeToken', 'audience', audience);
    const key = hashedCacheKey('token-exchange', {
      issuer: options.issuer,
      clientId: options.clientId,
      subject: sha256(subjectToken),
      audience: target,
    });
    const token = await loader.get<CachedToken>({
      key,
      freshMs: (value) => value.usableUntil - now(),
      staleMs: 0,
      description: `token exchange for audience "${target}"`,
      isValid: isCachedToken,
      load: async () => {
        let url: string | undefined;
        try {
          const config = await discovery.get();
          url = config.serverMetadata().token_endpoint;
          const response = await genericGrantRequest(config, TOKEN_EXCHANGE_GRANT, {
            subject_token: subjectToken,
            subject_token_type: ACCESS_TOKEN_TYPE,
            audience: target,
          });
          logger.debug({ audience: target }, 'Exchanged a token');
          return {
            accessToken: response.access_token,
            usableUntil: usableUntil(now(), response.expires_in, marginMs),
          };
        } catch (error) {
          const failure = mapUpstreamError(error, {
            what: WHAT,
            url,
            onRejected: (rejection) => rejectionError(rejection, target, error),
          });
          // Found here (discovery logs its own): logged once, with what to fix.
          if (failure !== error && failure.code === 'ERR_IDP_MISCONFIGURED')
            logger.error({ ...failureLogFields(failure), audience: target }, MISCONFIGURED);
          throw failure;
        }
      },
    });
    return token.accessToken;
  };
}
