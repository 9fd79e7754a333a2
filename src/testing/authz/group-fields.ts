import type { EmulatorGroup } from '../types.js';
import type { FieldSchema } from './fields.js';
import { groupId } from './ids.js';

/** Group fields of the AuthZ API (`/Group`), in output order. */
export const GROUP_FIELDS = {
  id: 'string',
  groupIdentifier: 'string',
  displayName: 'string',
  description: 'string',
} as const satisfies FieldSchema;

/** A group as `/Group` returns it. */
export interface AuthzGroup {
  id: string;
  groupIdentifier: string;
  displayName?: string;
  description?: string;
}

/** Maps an emulator group (whose `id` is the `groupIdentifier`) to its AuthZ representation. */
export function toGroup(group: EmulatorGroup): AuthzGroup {
  const out: AuthzGroup = { id: groupId(group.id), groupIdentifier: group.id };
  if (group.displayName !== undefined) out.displayName = group.displayName;
  if (group.description !== undefined) out.description = group.description;
  return out;
}

/** Fields of an `/IdentityMembership/{upn}/precomputed` entry, in output order. */
export const MEMBERSHIP_FIELDS = {
  id: 'string',
  identityId: 'string',
  groupId: 'string',
  groupIdentifier: 'string',
  displayName: 'string',
  description: 'string',
} as const satisfies FieldSchema;
