import type { EmulatorGroup } from './types.js';

/**
 * The groups a login belongs to, directly or through nested groups (`memberGroups`), like the
 * AuthZ API's "precomputed" memberships. Sorted; cycles in the nesting are harmless.
 */
export function computeUserGroups(groups: readonly EmulatorGroup[], login: string): string[] {
  // Parent index: which groups include a given group as a member group.
  const parents = new Map<string, string[]>();
  const result = new Set<string>();
  for (const group of groups) {
    if (group.members?.includes(login)) result.add(group.id);
    for (const child of group.memberGroups ?? []) {
      const list = parents.get(child);
      if (list) list.push(group.id);
      else parents.set(child, [group.id]);
    }
  }
  const queue = [...result];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    for (const parent of parents.get(next) ?? []) {
      if (!result.has(parent)) {
        result.add(parent);
        queue.push(parent);
      }
    }
  }
  return [...result].sort();
}
