import { createHash } from 'node:crypto';

// Ids are pure functions of their name, so memoizing them is always correct; the bound only
// keeps memory flat when a long-lived emulator sees many different names.
const MAX_MEMO = 100_000;
const memo = new Map<string, string>();

/**
 * A UUID-shaped id (RFC 4122 version 5 layout, SHA-1 based) derived deterministically from
 * `namespace` and `name`: the same login always gets the same AuthZ identity id, across
 * restarts and emulator instances.
 */
export function stableUuid(namespace: string, name: string): string {
  const key = `${namespace}\u0000${name}`;
  const cached = memo.get(key);
  if (cached !== undefined) return cached;
  const hash = createHash('sha1').update(key).digest();
  hash.writeUInt8((hash.readUInt8(6) & 0x0f) | 0x50, 6);
  hash.writeUInt8((hash.readUInt8(8) & 0x3f) | 0x80, 8);
  const hex = hash.subarray(0, 16).toString('hex');
  const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  if (memo.size >= MAX_MEMO) memo.clear();
  memo.set(key, id);
  return id;
}

/** The AuthZ `id` of the identity whose `upn` is `login`. */
export function identityId(login: string): string {
  return stableUuid('identity', login);
}

/** The AuthZ `id` of the group whose `groupIdentifier` is `groupIdentifier`. */
export function groupId(groupIdentifier: string): string {
  return stableUuid('group', groupIdentifier);
}
