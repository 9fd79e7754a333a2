import express, { type Router } from 'express';
import type { EmulatorGroup, EmulatorUser } from '../types.js';
import { requireApiToken, type VerifyApiToken } from './auth.js';
import { apiErrorHandler, methodNotAllowedHandler, notFoundHandler } from './errors.js';
import { createHandlers } from './handlers.js';
import { Paginator } from './pagination.js';

export { AUTHZ_API_AUDIENCE, type VerifyApiToken } from './auth.js';
export type { AuthzGroup } from './group-fields.js';
export type { AuthzIdentity } from './identity-fields.js';
export { groupId, identityId } from './ids.js';
export type { Pagination } from './pagination.js';

/** Default page size of paginated endpoints (`limit` when the client sends none). */
export const DEFAULT_PAGE_SIZE = 1000;
/** Default cap on `limit`; larger values are silently reduced to it. */
export const MAX_PAGE_SIZE = 5000;

/** What the emulated AuthZ API needs from the emulator hosting it. */
export interface AuthzApiDeps {
  /** The identities, read on every request (the data may change between requests). */
  users: () => readonly EmulatorUser[];
  /** The e-groups, read on every request. */
  groups: () => readonly EmulatorGroup[];
  /** Verifies an API token and returns its JWT claims; throws when it is invalid. */
  verifyApiToken: VerifyApiToken;
  /** Page size when the request has no `limit`. Default {@link DEFAULT_PAGE_SIZE}. */
  defaultPageSize?: number;
  /** Largest page size honoured; bigger `limit`s are capped. Default {@link MAX_PAGE_SIZE}. */
  maxPageSize?: number;
}

/**
 * An Express router emulating the CERN Authorization Service API (`/api/v1.0`):
 * `GET /Identity`, `/Identity/{upn}`, `/IdentityMembership/{upn}/precomputed`, `/Group`,
 * `/Group/{id}`, `/Group/{id}/memberidentities/precomputed`, with the real API's filter language, field
 * selection, token pagination and JSON `{ message }` errors. Every request needs a bearer token
 * accepted by `deps.verifyApiToken` whose `aud` includes `authorization-service-api`.
 *
 * Mount it at `/api/v1.0` (the `next` links of paginated responses start with the mount path).
 * Throws a `TypeError` at construction when a page size option is not a positive integer.
 */
export function createAuthzApiRouter(deps: AuthzApiDeps): Router {
  const paginator = new Paginator({
    defaultPageSize: deps.defaultPageSize ?? DEFAULT_PAGE_SIZE,
    maxPageSize: deps.maxPageSize ?? MAX_PAGE_SIZE,
  });
  const handlers = createHandlers({ users: deps.users, groups: deps.groups, paginator });
  // Case-insensitive paths (Express's default) like the real, ASP.NET-based API.
  const router = express.Router();
  router.use(requireApiToken(deps.verifyApiToken));
  router.route('/Identity').get(handlers.listIdentities).all(methodNotAllowedHandler);
  router.route('/Identity/:upn').get(handlers.getIdentity).all(methodNotAllowedHandler);
  router
    .route('/IdentityMembership/:upn/precomputed')
    .get(handlers.identityGroups)
    .all(methodNotAllowedHandler);
  router.route('/Group').get(handlers.listGroups).all(methodNotAllowedHandler);
  router.route('/Group/:id').get(handlers.getGroup).all(methodNotAllowedHandler);
  router
    .route('/Group/:id/memberidentities/precomputed')
    .get(handlers.groupMembers)
    .all(methodNotAllowedHandler);
  router.use(notFoundHandler);
  router.use(apiErrorHandler);
  return router;
}
