import express, { type Router } from 'express';
import type { EmulatorContext } from './context.js';
import { issuerFor } from './faults.js';

/** The realm's OpenID Provider metadata, as Keycloak publishes it (the parts a client uses). */
export function discoveryDocument(ctx: EmulatorContext, issuer: string | undefined): Record<string, unknown> {
  const oidc = `${ctx.issuer}/protocol/openid-connect`;
  return {
    issuer,
    authorization_endpoint: `${oidc}/auth`,
    token_endpoint: `${oidc}/token`,
    introspection_endpoint: `${oidc}/token/introspect`,
    userinfo_endpoint: `${oidc}/userinfo`,
    end_session_endpoint: `${oidc}/logout`,
    revocation_endpoint: `${oidc}/revoke`,
    jwks_uri: `${oidc}/certs`,
    frontchannel_logout_supported: false,
    frontchannel_logout_session_supported: false,
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
    grant_types_supported: [
      'authorization_code',
      'refresh_token',
      'client_credentials',
      'urn:ietf:params:oauth:grant-type:token-exchange',
    ],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    userinfo_signing_alg_values_supported: ['none'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    code_challenge_methods_supported: ['S256'],
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    require_request_uri_registration: false,
    authorization_response_iss_parameter_supported: true,
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    claims_supported: [
      'iss',
      'sub',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'nonce',
      'at_hash',
      'sid',
      'azp',
      'name',
      'given_name',
      'family_name',
      'preferred_username',
      'email',
      'cern_upn',
      'cern_person_id',
      'cern_preferred_language',
      'cern_roles',
      'resource_access',
      'groups',
    ],
    claim_types_supported: ['normal'],
  };
}

/** Discovery document and JWKS. */
export function discoveryRouter(ctx: EmulatorContext): Router {
  const router = express.Router();
  router.get(`${ctx.realmPath}/.well-known/openid-configuration`, (_req, res) => {
    res.json(discoveryDocument(ctx, issuerFor(ctx, res)));
  });
  router.get(`${ctx.realmPath}/protocol/openid-connect/certs`, (_req, res) => {
    res.set('Cache-Control', 'no-cache').json(ctx.keys.jwks());
  });
  return router;
}
