import type { EmulatorUser } from '../types.js';
import type { FieldSchema } from './fields.js';
import { identityId } from './ids.js';

/** Identity fields of the AuthZ API, in output order, with their kinds for filtering. */
export const IDENTITY_FIELDS = {
  id: 'string',
  upn: 'string',
  displayName: 'string',
  firstName: 'string',
  lastName: 'string',
  personId: 'number',
  primaryAccountEmail: 'string',
  instituteName: 'string',
  telephone1: 'string',
  type: 'string',
  source: 'string',
  activeUser: 'boolean',
  cernDepartment: 'string',
  cernGroup: 'string',
  cernSection: 'string',
  uid: 'number',
  gid: 'number',
  modificationTime: 'date',
} as const satisfies FieldSchema;

/** Default `modificationTime` of identities that do not set one. */
export const DEFAULT_MODIFICATION_TIME = '2024-01-01T00:00:00Z';

/** An identity as the AuthZ API returns it. Absent values are omitted, never `null`. */
export interface AuthzIdentity {
  id: string;
  upn: string;
  displayName?: string;
  firstName?: string;
  lastName?: string;
  personId?: number;
  primaryAccountEmail?: string;
  instituteName?: string;
  telephone1?: string;
  type: string;
  source: string;
  activeUser: boolean;
  cernDepartment?: string;
  cernGroup?: string;
  cernSection?: string;
  uid?: number;
  gid?: number;
  modificationTime: string;
}

/** Maps an emulator user to its AuthZ identity (the password never leaves the emulator). */
export function toIdentity(user: EmulatorUser): AuthzIdentity {
  const identity: AuthzIdentity = {
    id: identityId(user.login),
    upn: user.login,
    type: user.type ?? 'Person',
    source: user.source ?? 'cern',
    activeUser: user.active ?? true,
    modificationTime: user.modificationTime ?? DEFAULT_MODIFICATION_TIME,
  };
  setDefined(identity, 'displayName', user.displayName);
  setDefined(identity, 'firstName', user.firstName);
  setDefined(identity, 'lastName', user.lastName);
  setDefined(identity, 'personId', user.personId);
  setDefined(identity, 'primaryAccountEmail', user.email);
  setDefined(identity, 'instituteName', user.affiliation);
  setDefined(identity, 'telephone1', user.phone);
  setDefined(identity, 'cernDepartment', user.department);
  setDefined(identity, 'cernGroup', user.group);
  setDefined(identity, 'cernSection', user.section);
  setDefined(identity, 'uid', user.uid);
  setDefined(identity, 'gid', user.gid);
  return reorder(identity);
}

function setDefined<K extends keyof AuthzIdentity>(
  target: AuthzIdentity,
  key: K,
  value: AuthzIdentity[K] | undefined,
): void {
  if (value !== undefined) target[key] = value;
}

// JSON output follows IDENTITY_FIELDS' order, which makes responses easy to eyeball and diff.
function reorder(identity: AuthzIdentity): AuthzIdentity {
  const ordered: Record<string, unknown> = {};
  for (const name of Object.keys(IDENTITY_FIELDS) as (keyof AuthzIdentity)[]) {
    if (identity[name] !== undefined) ordered[name] = identity[name];
  }
  return ordered as unknown as AuthzIdentity;
}
