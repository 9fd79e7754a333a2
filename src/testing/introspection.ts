import express, { type Router } from 'express';
import { authenticateClient } from './clients.js';
import type { EmulatorContext } from './context.js';
import { formBody, formParser, OAuthError, param, sendNoStore, sendOAuthError } from './http.js';
import { verifyAccessToken, verifyRefreshToken } from './tokens.js';

/** Introspection answer for any token: its claims when active, else `{ active: false }` (RFC 7662). */
async function introspect(ctx: EmulatorContext, token: string): Promise<Record<string, unknown>> {
  const access = await verifyAccessToken(ctx, token);
  if (access) {
    return {
      ...access,
      client_id: access.azp,
      username: access.preferred_username,
      token_type: 'Bearer',
      active: true,
    };
  }
  const refresh = await verifyRefreshToken(ctx, token);
  if (refresh.ok && !(refresh.record.used && ctx.settings.revokeRefreshTokens)) {
    return {
      ...refresh.payload,
      client_id: refresh.record.clientId,
      username: refresh.record.login,
      token_type: 'Refresh',
      active: true,
    };
  }
  return { active: false };
}

/** Token introspection (RFC 7662) and revocation (RFC 7009), both with client authentication. */
export function introspectionRouter(ctx: EmulatorContext): Router {
  const router = express.Router();
  const oidc = `${ctx.realmPath}/protocol/openid-connect`;

  router.post(`${oidc}/token/introspect`, formParser, async (req, res) => {
    try {
      const body = formBody(req);
      authenticateClient(ctx, req, body);
      const token = param(body, 'token');
      if (token === undefined) throw new OAuthError(400, 'invalid_request', 'Missing parameter: token');
      sendNoStore(res, await introspect(ctx, token));
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      sendOAuthError(res, error);
    }
  });

  router.post(`${oidc}/revoke`, formParser, async (req, res) => {
    try {
      const body = formBody(req);
      // Keycloak's revocation endpoint, like its token endpoint, says unauthorized_client for a wrong secret.
      const client = authenticateClient(ctx, req, body, 'unauthorized_client');
      const token = param(body, 'token');
      if (token === undefined) throw new OAuthError(400, 'invalid_request', 'Missing parameter: token');
      const refresh = await verifyRefreshToken(ctx, token);
      if (refresh.ok) {
        if (refresh.record.clientId !== client.clientId) {
          throw new OAuthError(400, 'invalid_request', 'Token was issued to another client');
        }
        ctx.store.revokeGrant(refresh.record.grantId);
      } else {
        const access = await verifyAccessToken(ctx, token);
        if (access?.azp === client.clientId && typeof access.jti === 'string') {
          ctx.store.revokeAccessToken(access.jti);
        }
      }
      // RFC 7009: unknown or already invalid tokens are not an error.
      res.status(200).set('Cache-Control', 'no-store').end();
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      sendOAuthError(res, error);
    }
  });
  return router;
}
