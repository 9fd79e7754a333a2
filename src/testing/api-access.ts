import express, { type Router } from 'express';
import { authenticateClient } from './clients.js';
import type { EmulatorContext } from './context.js';
import { formBody, formParser, OAuthError, param } from './http.js';
import { answerTokenRequest, clientCredentialsToken } from './token-endpoint.js';

/** Audience of CERN Authorization Service API tokens. */
export const AUTHZ_API_AUDIENCE = 'authorization-service-api';

/**
 * CERN's service-token endpoint `{realm}/api-access/token`: client credentials only, for the
 * Authorization Service API (`audience=authorization-service-api`) or another registered
 * application (`audience=<its client id>`, as for calling that application's API). Any other
 * audience is a 400 `invalid_request`.
 */
export function apiAccessRouter(ctx: EmulatorContext): Router {
  const router = express.Router();
  router.post(`${ctx.realmPath}/api-access/token`, formParser, async (req, res) => {
    await answerTokenRequest(res, () => {
      const body = formBody(req);
      const grantType = param(body, 'grant_type');
      if (grantType === undefined) {
        throw new OAuthError(400, 'invalid_request', 'Missing form parameter: grant_type');
      }
      const client = authenticateClient(ctx, req, body);
      if (grantType !== 'client_credentials') {
        throw new OAuthError(400, 'unsupported_grant_type', `Unsupported grant_type: ${grantType}`);
      }
      const audience = param(body, 'audience');
      if (audience === undefined) throw new OAuthError(400, 'invalid_request', 'Missing parameter: audience');
      if (audience !== AUTHZ_API_AUDIENCE && !ctx.clients.has(audience)) {
        throw new OAuthError(400, 'invalid_request', `Invalid audience: ${audience}`);
      }
      return clientCredentialsToken(ctx, res, client, {
        audience: [audience],
        ttlSec: ctx.settings.apiTokenTtlSec,
        scope: 'profile email',
      });
    });
  });
  return router;
}
