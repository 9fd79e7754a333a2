import express, { type Request, type Response, type Router } from 'express';
import { findUser, type EmulatorContext } from './context.js';
import { bearerToken, formBody, formParser, param } from './http.js';
import { identityClaims, verifyAccessToken } from './tokens.js';

function invalidToken(ctx: EmulatorContext, res: Response, description: string): void {
  res
    .status(401)
    .set(
      'WWW-Authenticate',
      `Bearer realm="${ctx.realm}", error="invalid_token", error_description="${description}"`,
    )
    .json({ error: 'invalid_token', error_description: description });
}

async function userinfo(ctx: EmulatorContext, req: Request, res: Response): Promise<void> {
  // RFC 6750: the header, or `access_token` in a form body.
  const token =
    bearerToken(req) ?? (req.method === 'POST' ? param(formBody(req), 'access_token') : undefined);
  if (token === undefined) {
    res.status(401).set('WWW-Authenticate', `Bearer realm="${ctx.realm}"`).json({
      error: 'invalid_request',
      error_description: 'Missing bearer token',
    });
    return;
  }
  const claims = await verifyAccessToken(ctx, token);
  if (!claims || typeof claims.sub !== 'string' || typeof claims.azp !== 'string') {
    invalidToken(ctx, res, 'Token verification failed');
    return;
  }
  const user = findUser(ctx, claims.sub);
  if (user?.active === false) {
    invalidToken(ctx, res, 'User disabled');
    return;
  }
  // Fresh data of the user as seen by the token's client; service accounts get their token's claims.
  const body = user
    ? identityClaims(ctx, user, claims.azp)
    : { sub: claims.sub, preferred_username: claims.preferred_username };
  res.set('Cache-Control', 'no-store').json(body);
}

/** The userinfo endpoint (GET and POST). */
export function userinfoRouter(ctx: EmulatorContext): Router {
  const router = express.Router();
  const path = `${ctx.realmPath}/protocol/openid-connect/userinfo`;
  router.get(path, (req, res) => userinfo(ctx, req, res));
  router.post(path, formParser, (req, res) => userinfo(ctx, req, res));
  return router;
}
