import type * as client from 'openid-client';
import type { SessionTokens } from './session-data.js';

/** Access tokens without `expires_in` are treated as valid this long (Keycloak always sends it). */
const DEFAULT_ACCESS_TOKEN_LIFETIME_SEC = 300;

/**
 * Session tokens from a token response received at `now` (epoch ms, the library's clock). On
 * refresh Keycloak may omit a new refresh or ID token: the previous ones are kept.
 */
export function tokensFromResponse(
  response: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers,
  now: number,
  previous?: SessionTokens,
): SessionTokens {
  const expiresIn = response.expiresIn() ?? DEFAULT_ACCESS_TOKEN_LIFETIME_SEC;
  const idToken = response.id_token ?? previous?.idToken ?? '';
  const tokens: SessionTokens = {
    accessToken: response.access_token,
    accessTokenExpiresAt: now + expiresIn * 1000,
    idToken,
  };
  const refreshToken = response.refresh_token ?? previous?.refreshToken;
  if (refreshToken) tokens.refreshToken = refreshToken;
  const scope = response.scope ?? previous?.scope;
  if (scope) tokens.scope = scope;
  return tokens;
}
