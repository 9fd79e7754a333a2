import type { EmulatorGroup } from '../types.js';
import { compareText } from './directory.js';

// Computed per request from the live data rather than cached: the data may change between
// requests (even in place), and one linear pass over a few thousand memberships costs well under
// a millisecond. Both walks keep a visited set, so cyclic nesting terminates.

/**
 * Every group `login` is a member of, precomputed transitively: a member of group C is a member
 * of each group listing C in `memberGroups`, recursively. Sorted by `groupIdentifier`.
 * Linear in the total size of the groups.
 */
export function groupsOf(groups: readonly EmulatorGroup[], login: string): EmulatorGroup[] {
  const parents = new Map<string, EmulatorGroup[]>();
  const found = new Map<string, EmulatorGroup>();
  const queue: EmulatorGroup[] = [];
  for (const group of groups) {
    for (const child of group.memberGroups ?? []) {
      const list = parents.get(child);
      if (list === undefined) parents.set(child, [group]);
      else list.push(group);
    }
    if (group.members?.includes(login) === true && !found.has(group.id)) {
      found.set(group.id, group);
      queue.push(group);
    }
  }
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    for (const parent of parents.get(next.id) ?? []) {
      if (found.has(parent.id)) continue;
      found.set(parent.id, parent);
      queue.push(parent);
    }
  }
  return [...found.values()].sort((a, b) => compareText(a.id, b.id));
}

/**
 * The logins of every member of `root`, precomputed transitively through `memberGroups`.
 * Nested group ids that do not exist are ignored. Linear in the size of the reachable groups.
 */
export function membersOf(groups: readonly EmulatorGroup[], root: EmulatorGroup): Set<string> {
  const byId = new Map<string, EmulatorGroup>();
  for (const group of groups) if (!byId.has(group.id)) byId.set(group.id, group);
  const members = new Set<string>();
  const visited = new Set<string>([root.id]);
  const queue: EmulatorGroup[] = [root];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    for (const login of next.members ?? []) members.add(login);
    for (const childId of next.memberGroups ?? []) {
      const child = byId.get(childId);
      if (child === undefined || visited.has(childId)) continue;
      visited.add(childId);
      queue.push(child);
    }
  }
  return members;
}
