import { genericGrantRequest } from 'openid-client';
import type { OidcDiscovery } from '../auth/discovery.js';
import type { CachedLoader } from '../cache/cached-loader.js';
import { hashedCacheKey, sha256 } from '../cache/keys.js';
import { CernSsoError } from '../errors.js';
import type { Logger } from '../logger.js';
import { mapTokenEndpointError, type OAuthRejection } from './token-endpoint-errors.js';
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
 * Keycloak's own codes for two cases, as its token endpoint really answers them (checked by the
 * differential suite against Keycloak 26): an invalid, expired or revoked subject token is
 * `invalid_request` "Invalid token" (not `invalid_token`), and a wrong client secret is a 401
 * `unauthorized_client` (not `invalid_client`).
 */
function keycloakMeaning(rejection: OAuthRejection): string {
  if (rejection.error === 'invalid_request' && rejection.description === 'Invalid token')
    return 'invalid_token';
  if (rejection.error === 'unauthorized_client' && rejection.status === 401) return 'invalid_client';
  return rejection.error;
}

/**
 * What an OAuth error of the token endpoint means for an exchange. `invalid_client` is the
 * application's own configuration, not the user's fault, so it is a 500 (a 401 would make
 * guards send the user to a login that cannot help).
 */
function rejectionError(rejection: OAuthRejection, audience: string, cause: unknown): CernSsoError {
  const detail = rejection.description === '' ? '' : `: ${rejection.description}`;
  const reason = `${rejection.error}${detail}`;
  switch (keycloakMeaning(rejection)) {
    case 'invalid_grant':
    case 'invalid_token':
      return new CernSsoError(
        'ERR_TOKEN_EXCHANGE',
        `The access token cannot be exchanged for audience "${audience}": it is invalid or expired (${reason})`,
        { status: 401, cause },
      );
    case 'access_denied':
    case 'unauthorized_client':
    case 'insufficient_scope':
      return new CernSsoError(
        'ERR_TOKEN_EXCHANGE',
        `Token exchange for audience "${audience}" is not allowed (${reason})`,
        { status: 403, cause },
      );
    case 'invalid_client':
      return new CernSsoError(
        'ERR_TOKEN_EXCHANGE',
        `${WHAT} rejected the application's client credentials (${reason}); check clientId/clientSecret`,
        { status: 500, cause },
      );
    default:
      return new CernSsoError(
        'ERR_TOKEN_EXCHANGE',
        `Token exchange for audience "${audience}" was refused (${reason})`,
        { status: rejection.status === 403 ? 403 : 400, cause },
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
      throw new CernSsoError('ERR_BAD_REQUEST', 'exchangeToken: subjectToken must be a non-empty string', {
        status: 400,
      });
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
        try {
          const config = await discovery.get();
          const response = await genericGrantRequest(config, TOKEN_EXCHANGE_GRANT, {
            subject_token: subjectToken,
            subject_token_type: ACCESS_TOKEN_TYPE,
            audience: target,
          });
          logger.debug(`Exchanged a token for audience "${target}"`);
          return {
            accessToken: response.access_token,
            usableUntil: usableUntil(now(), response.expires_in, marginMs),
          };
        } catch (error) {
          throw mapTokenEndpointError(error, WHAT, (rejection) => rejectionError(rejection, target, error));
        }
      },
    });
    return token.accessToken;
  };
}
