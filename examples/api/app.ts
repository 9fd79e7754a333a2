import express, { type Express } from 'express';
import {
  bearerAuth,
  createIdentityProvider,
  requireAuth,
  requireClaim,
  requireGroup,
  requireRole,
  type IdentityProvider,
} from 'express-cern-sso';

export interface ApiAppOptions {
  /** Trusted issuer(s); default env CERN_SSO_ISSUER, else CERN's. */
  issuer?: string;
  /** The audience this API accepts: tokens must be issued for it (Application Portal client id). */
  audience: string;
  /** For e-group checks when a token carries no `groups` claim (needs client credentials). */
  identity?: IdentityProvider;
}

/**
 * A small REST API for other services, scripts and `oidc-agent` users: every route under /api
 * needs a CERN access token (`Authorization: Bearer ...`), checked locally against Keycloak's keys.
 */
export function createApiApp(options: ApiAppOptions): Express {
  const app = express();
  app.get('/health', (_req, res) => {
    res.json({ ok: true });
  });
  app.use(
    '/api',
    bearerAuth({
      audience: options.audience,
      ...(options.issuer ? { issuer: options.issuer } : {}),
      ...(options.identity ? { identity: options.identity } : {}),
    }),
  );
  app.get('/api/whoami', requireAuth(), (req, res) => {
    res.json({ user: req.sso.user, clientId: req.sso.claims?.azp });
  });
  // Application Portal role, for services and people alike.
  app.get('/api/reports', requireRole('reader'), (_req, res) => {
    res.json({ reports: [{ id: 1, title: 'Weekly accelerator availability' }] });
  });
  // E-group: from the token's `groups` claim when present, else from the AuthZ API.
  app.get('/api/admin/stats', requireGroup('it-dep-admins'), (_req, res) => {
    res.json({ activeUsers: 42 });
  });
  // Any claim, including nested paths: here the roles Keycloak puts under resource_access.
  app.get('/api/audit', requireClaim(`resource_access.${options.audience}.roles`, 'auditor'), (_req, res) => {
    res.json({ entries: [] });
  });
  return app;
}

/** The identity provider from CERN_SSO_* env vars, when client credentials are configured. */
export function identityFromEnv(): IdentityProvider | undefined {
  return process.env.CERN_SSO_CLIENT_ID && process.env.CERN_SSO_CLIENT_SECRET
    ? createIdentityProvider()
    : undefined;
}
