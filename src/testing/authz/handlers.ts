import type { Request, RequestHandler } from 'express';
import type { EmulatorGroup, EmulatorUser } from '../types.js';
import { compareText, findGroup, findUser } from './directory.js';
import { ApiError } from './errors.js';
import { parseFieldSelection, project, type FieldSchema } from './fields.js';
import { compileFilters } from './filters.js';
import { GROUP_FIELDS, MEMBERSHIP_FIELDS, toGroup, type AuthzGroup } from './group-fields.js';
import { IDENTITY_FIELDS, toIdentity, type AuthzIdentity } from './identity-fields.js';
import { groupId, identityId, stableUuid } from './ids.js';
import { groupsOf, membersOf } from './membership.js';
import type { Paginator } from './pagination.js';
import { queryParams } from './query.js';

/** What the endpoint handlers read: live data accessors and the shared paginator. */
export interface HandlerSources {
  users: () => readonly EmulatorUser[];
  groups: () => readonly EmulatorGroup[];
  paginator: Paginator;
}

/** The request handlers of the emulated AuthZ API, one per endpoint. */
export interface AuthzHandlers {
  /** `GET /Identity?filter=&field=&limit=&token=` */
  listIdentities: RequestHandler;
  /** `GET /Identity/{upn or id}?field=` */
  getIdentity: RequestHandler;
  /** `GET /IdentityMembership/{upn or id}/precomputed?field=` */
  identityGroups: RequestHandler;
  /** `GET /Group?filter=&field=&limit=&token=` */
  listGroups: RequestHandler;
  /** `GET /Group/{groupIdentifier or id}?field=` */
  getGroup: RequestHandler;
  /** `GET /Group/{groupIdentifier or id}/memberidentities/precomputed?filter=&field=&limit=&token=` */
  groupMembers: RequestHandler;
}

/** Builds the endpoint handlers over `sources`. Data is read anew on every request. */
export function createHandlers(sources: HandlerSources): AuthzHandlers {
  const { users, groups, paginator } = sources;

  /** Filters, sorts, paginates and projects a list of records, then answers with it. */
  function listResponse<T extends object>(
    req: Request,
    records: readonly T[],
    schema: FieldSchema,
    sortKey: (record: T) => string,
    resource: string,
    path: string,
  ): { data: Record<string, unknown>[]; pagination: unknown } {
    const params = queryParams(req);
    const fields = parseFieldSelection(params.getAll('field'), schema);
    const matches = compileFilters(params.getAll('filter'), schema);
    const rows = records.filter(matches).sort((a, b) => compareText(sortKey(a), sortKey(b)));
    const page = paginator.paginate(rows, { path: `${req.baseUrl}${path}`, params, resource });
    return { data: page.rows.map((row) => project(row, fields)), pagination: page.pagination };
  }

  const byUpn = (identity: AuthzIdentity): string => identity.upn;
  const byIdentifier = (group: AuthzGroup): string => group.groupIdentifier;

  return {
    listIdentities: (req, res) => {
      res.json(listResponse(req, users().map(toIdentity), IDENTITY_FIELDS, byUpn, 'Identity', '/Identity'));
    },

    getIdentity: (req, res) => {
      const key = pathParam(req, 'upn');
      const fields = parseFieldSelection(queryParams(req).getAll('field'), IDENTITY_FIELDS);
      const user = findUser(users(), key);
      if (user === undefined) throw new ApiError(404, `Identity '${key}' not found`);
      res.json({ data: project(toIdentity(user), fields) });
    },

    identityGroups: (req, res) => {
      const key = pathParam(req, 'upn');
      const fields = parseFieldSelection(queryParams(req).getAll('field'), MEMBERSHIP_FIELDS);
      const user = findUser(users(), key);
      if (user === undefined) throw new ApiError(404, `Identity '${key}' not found`);
      // Entries are returned as stored, including odd ones such as `name|uuid`: the real API
      // does too, and clients are expected to drop them.
      const memberships = groupsOf(groups(), user.login);
      // Like the real API: an identity without any group is a 404, not an empty list.
      if (memberships.length === 0) throw new ApiError(404, `Identity '${key}' has no group memberships`);
      const ownId = identityId(user.login);
      const data = memberships.map((group) => {
        const gid = groupId(group.id);
        const entry = {
          id: stableUuid('membership', `${ownId}/${gid}`),
          identityId: ownId,
          groupId: gid,
          groupIdentifier: group.id,
          displayName: group.displayName,
          description: group.description,
        };
        return project(entry, fields ?? Object.keys(MEMBERSHIP_FIELDS));
      });
      res.json({ data });
    },

    listGroups: (req, res) => {
      res.json(listResponse(req, groups().map(toGroup), GROUP_FIELDS, byIdentifier, 'Group', '/Group'));
    },

    getGroup: (req, res) => {
      const key = pathParam(req, 'id');
      const fields = parseFieldSelection(queryParams(req).getAll('field'), GROUP_FIELDS);
      const group = findGroup(groups(), key);
      if (group === undefined) throw new ApiError(404, `Group '${key}' not found`);
      res.json({ data: project(toGroup(group), fields) });
    },

    groupMembers: (req, res) => {
      const key = pathParam(req, 'id');
      const all = groups();
      const group = findGroup(all, key);
      if (group === undefined) throw new ApiError(404, `Group '${key}' not found`);
      const logins = membersOf(all, group);
      // Members without a known identity cannot be returned: the real API only lists identities.
      const members = users()
        .filter((user) => logins.has(user.login))
        .map(toIdentity);
      const path = `/Group/${encodeURIComponent(group.id)}/memberidentities/precomputed`;
      res.json(
        listResponse(req, members, IDENTITY_FIELDS, byUpn, `Group/${group.id}/memberidentities`, path),
      );
    },
  };
}

/**
 * A path parameter, already percent-decoded by Express's router (so `%2F` arrives as `/` and
 * `%7C` as `|`). Decoding it again would corrupt logins containing a literal `%`.
 */
function pathParam(req: Request, name: string): string {
  const value = (req.params as Record<string, string | undefined>)[name];
  if (value === undefined || value === '') throw new ApiError(404, 'Not found');
  return value;
}
