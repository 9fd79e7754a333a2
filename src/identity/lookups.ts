import type { CachedLoader } from '../cache/cached-loader.js';
import { cacheKey } from '../cache/keys.js';
import { pathSegment, type AuthzClient, type QueryParams } from './authz-client.js';
import {
  GROUP_API_FIELDS,
  copyIdentity,
  isCernGroup,
  isCernIdentity,
  toCernGroup,
} from './identity-mapping.js';
import type { CernGroup, CernIdentity } from './types.js';
import { badInput, requireName } from './validation.js';

/** What the lookups need from the identity provider that hosts them. */
export interface LookupDeps {
  api: AuthzClient;
  loader: CachedLoader;
  freshMs: number;
  staleMs: number;
  /** `field=` parameters of identity requests (the library's fields plus `identityFields`). */
  identityQuery: QueryParams;
  /** Maps one AuthZ identity record (phone rule, `identityFields`). */
  mapIdentity: (row: unknown) => CernIdentity | null;
  /** Resolves the `CERN Users` alias to the configured group. */
  resolveGroup: (name: string) => string;
  /** Appended to the cache key kinds of identities: differs per `identityFields`. */
  keyTag: string;
}

/** `getUserByPersonId`, `getUserByEmail` and `getGroup` of the identity provider. */
export interface IdentityLookups {
  getUserByPersonId: (personId: number | string) => Promise<CernIdentity | null>;
  getUserByEmail: (email: string) => Promise<CernIdentity | null>;
  getGroup: (name: string) => Promise<CernGroup | null>;
}

/** Longest e-mail address accepted (RFC 5321's path limit). */
const MAX_EMAIL_LENGTH = 254;
/** One `@`, something on both sides, no spaces, quotes, angle brackets, commas or controls. */
const EMAIL = /^[^\s@"<>,;()\\\p{Cc}]+@[^\s@"<>,;()\\\p{Cc}]+$/u;
/** Rows read for one filter lookup: a person has a few accounts at most. */
const LOOKUP_PAGE_SIZE = 100;

/**
 * A person id as given by callers: a positive safe integer, or its decimal digits as a string
 * (the `cern_person_id` claim is a string). Anything else is a 400 `ERR_BAD_REQUEST`.
 */
export function requirePersonId(method: string, value: unknown): number {
  const parsed = typeof value === 'string' && /^\d{1,16}$/.test(value.trim()) ? Number(value.trim()) : value;
  if (typeof parsed !== 'number' || !Number.isSafeInteger(parsed) || parsed < 1) {
    throw badInput(method, 'personId must be a positive integer');
  }
  return parsed;
}

/** An e-mail address: trimmed, `local@domain`, without spaces or control characters. Lower-cased. */
export function requireEmail(method: string, value: unknown): string {
  if (typeof value !== 'string') throw badInput(method, 'email must be a string');
  const email = value.trim();
  if (email.length > MAX_EMAIL_LENGTH || !EMAIL.test(email)) {
    throw badInput(method, 'email must be an e-mail address such as "john.doe@cern.ch"');
  }
  return email.toLowerCase();
}

/**
 * The identity of a filter lookup among `rows`: the `Person` account when there are several
 * (a person's secondary or service accounts may share the value), else the first by login.
 */
function pickIdentity(rows: readonly unknown[], mapIdentity: LookupDeps['mapIdentity']): CernIdentity | null {
  let first: CernIdentity | null = null;
  for (const row of rows) {
    const identity = mapIdentity(row);
    if (identity === null) continue;
    const type =
      typeof row === 'object' && row !== null && Object.hasOwn(row, 'type')
        ? (row as { type: unknown }).type
        : undefined;
    if (type === 'Person') return identity;
    first ??= identity;
  }
  return first;
}

const isIdentityOrNull = (value: unknown): value is CernIdentity | null =>
  value === null || isCernIdentity(value);

/** Creates the lookups: each cached like `getUser` (fresh, then stale-if-error), one load per key at a time. */
export function createIdentityLookups(deps: LookupDeps): IdentityLookups {
  const { api, loader, freshMs, staleMs } = deps;
  const query = [...deps.identityQuery, ['field', 'type'] as const];

  /** The identity matching one AuthZ filter, cached under `key`. */
  async function findIdentity(
    key: string,
    description: string,
    filter: string,
  ): Promise<CernIdentity | null> {
    const identity = await loader.get<CernIdentity | null>({
      key,
      description,
      freshMs,
      staleMs,
      isValid: isIdentityOrNull,
      load: async () => {
        // The first page is enough: more than 100 accounts never share a person id or e-mail.
        for await (const page of api.pages('/Identity', [['filter', filter], ...query], {
          pageSize: LOOKUP_PAGE_SIZE,
        })) {
          return pickIdentity(page.rows, deps.mapIdentity);
        }
        return null;
      },
    });
    return identity === null ? null : copyIdentity(identity);
  }

  return {
    getUserByPersonId: async (personId) => {
      const id = requirePersonId('getUserByPersonId', personId);
      return findIdentity(
        cacheKey(`user-by-person-id${deps.keyTag}`, String(id)),
        `identity of person ${id}`,
        `personId:eq:${id}`,
      );
    },

    getUserByEmail: async (email) => {
      const address = requireEmail('getUserByEmail', email);
      return findIdentity(
        cacheKey(`user-by-email${deps.keyTag}`, address),
        'identity by e-mail',
        `primaryAccountEmail:eq:${address}`,
      );
    },

    getGroup: async (name) => {
      const group = deps.resolveGroup(requireName('getGroup', 'group', name));
      const found = await loader.get<CernGroup | null>({
        key: cacheKey('group', group.toLowerCase()),
        description: `group ${group}`,
        freshMs,
        staleMs,
        isValid: (value): value is CernGroup | null => value === null || isCernGroup(value),
        load: async () =>
          toCernGroup(
            await api.getData(
              `/Group/${pathSegment(group)}`,
              GROUP_API_FIELDS.map((name) => ['field', name] as const),
            ),
          ),
      });
      return found === null ? null : { ...found };
    },
  };
}
