/**
 * Child process of the `cache-memory` suite (run with `--expose-gc`): fills one structure with
 * the groups of `BENCH_USERS` users and reports the heap growth after full garbage collections.
 *
 * - `map`: a plain `Map<login, string[]>` (baseline).
 * - `store`: `memoryCache({ max: 200_000 })` used directly with the library's keys, no entry wrapper.
 * - `provider`: the identity provider's own format, through `seedUserGroups()` into
 *   `memoryCache({ max: 200_000 })` (key `cern-sso:v1:groups:<login>`, value
 *   `{ value, freshUntil, staleUntil }` inside lru-cache's `{ value }`).
 *
 * Group lists arrive as JSON from the AuthZ API, so every user's list is a fresh `JSON.parse`
 * result, as in production (no string is shared on purpose).
 */
import { cacheKey } from '../../src/cache/keys.js';
import { mulberry32 } from '../../src/testing/seed.js';
import { createIdentityProvider, memoryCache, type CacheStore } from '../../src/index.js';
import { reportFromChild } from '../lib/child.js';
import { settle } from '../lib/heap.js';

export type MemoryVariant = 'map' | 'store' | 'provider';
const VARIANTS: readonly string[] = ['map', 'store', 'provider'] satisfies MemoryVariant[];

export interface MemoryMeasurement {
  variant: MemoryVariant;
  users: number;
  groupsPerUser: number;
  /** Bytes of group-name characters per user (UTF-8), for scale. */
  nameBytesPerUser: number;
  /** Growth from creating the empty structure (lru-cache preallocates `max` slots). */
  emptyHeap: number;
  emptyExternal: number;
  /** Growth from filling it, after GC. */
  fillHeap: number;
  fillExternal: number;
  fillMs: number;
}

const MAX = 200_000;

const COMMON = [
  'cern-personnel',
  'cern-users',
  'lxplus-users',
  'twiki-users',
  'gitlab-users',
  'info-cern-announcements',
];
const UNITS = ['it', 'ep', 'th', 'be', 'en', 'sy', 'hr', 'fap', 'sce', 'ips', 'te', 'ph'];
const EXPERIMENTS = ['atlas', 'cms', 'alice', 'lhcb', 'na62', 'amber', 'isolde', 'ams', 'ntof', 'fcc'];
const TOPICS = [
  'users',
  'members',
  'admins',
  'computing',
  'software',
  'operations',
  'physicists',
  'readers',
  'secretariat',
  'safety',
  'dev',
  'shifters',
  'conveners',
  'upgrade',
  'analysis',
];

/** About 3 000 distinct e-group names shaped like CERN's. */
function groupPool(): string[] {
  const pool = new Set<string>();
  for (const unit of UNITS) {
    pool.add(`${unit}-dep`);
    for (const topic of TOPICS) {
      pool.add(`${unit}-dep-${topic}`);
      for (let n = 1; n <= 6; n++) pool.add(`${unit}-dep-${topic}-section-${n}`);
    }
  }
  for (const experiment of EXPERIMENTS) {
    for (const topic of TOPICS) {
      pool.add(`${experiment}-${topic}`);
      for (let n = 1; n <= 8; n++) pool.add(`${experiment}-${topic}-wg${n}`);
    }
  }
  return [...pool];
}

/** ~10 groups per user: 4 common ones, their department, and ~5 more (8 to 12 in all). */
function userGroupsJson(random: () => number, pool: string[]): string {
  const groups = new Set<string>(COMMON.slice(0, 4));
  groups.add(`${UNITS[Math.floor(random() * UNITS.length)] ?? 'it'}-dep`);
  const target = 8 + Math.floor(random() * 5);
  while (groups.size < target) groups.add(pool[Math.floor(random() * pool.length)] ?? 'cern-staff');
  return JSON.stringify([...groups]);
}

function login(i: number): string {
  // CERN-like logins: up to 8 lower-case characters, unique.
  return `u${i.toString(36).padStart(4, '0')}abc`.slice(0, 8);
}

async function measureVariant(variant: MemoryVariant, users: number): Promise<MemoryMeasurement> {
  const pool = groupPool();
  // The input, prepared before the first snapshot: only what the structure keeps is counted.
  const random = mulberry32(42);
  const inputs: string[] = [];
  let nameBytes = 0;
  let groupCount = 0;
  for (let i = 0; i < users; i++) {
    const json = userGroupsJson(random, pool);
    const names = JSON.parse(json) as string[];
    groupCount += names.length;
    nameBytes += names.reduce((sum, name) => sum + Buffer.byteLength(name), 0);
    inputs.push(json);
  }
  if (new Set(inputs.map((_json, i) => login(i))).size !== users) throw new Error('logins are not unique');

  const start = await settle();
  let map: Map<string, string[]> | undefined;
  let store: CacheStore | undefined;
  let provider: ReturnType<typeof createIdentityProvider> | undefined;
  if (variant === 'map') map = new Map();
  else {
    store = memoryCache({ max: MAX });
    if (variant === 'provider') {
      const silent = (): void => undefined;
      provider = createIdentityProvider({
        clientId: 'bench',
        clientSecret: 'bench-secret',
        // Never contacted: seeded data is fresh. Port 9 (discard) on loopback, just in case.
        issuer: 'http://127.0.0.1:9/auth/realms/cern',
        authzApiUrl: 'http://127.0.0.1:9',
        cache: store,
        logger: { debug: silent, info: silent, warn: silent, error: silent },
      });
    }
  }
  const empty = await settle();

  const fillStarted = performance.now();
  for (let i = 0; i < users; i++) {
    // What arrives from the API: a freshly parsed list (new strings), and a login (new string).
    const groups = JSON.parse(inputs[i] ?? '[]') as string[];
    const name = login(i);
    if (map) map.set(name, groups);
    else if (provider) await provider.seedUserGroups(name, groups);
    else await store?.set(cacheKey('groups', name), groups, 30 * 60_000);
  }
  const fillMs = performance.now() - fillStarted;
  // The input stays alive until after this snapshot: it is in both snapshots, so not counted.
  const filled = await settle();
  const probe = login(users - 1);
  const expected = inputs[users - 1] ?? '';

  // Read one user back (keeps the structure alive up to here and proves it holds the data).
  const back = map
    ? map.get(probe)
    : provider
      ? await provider.getUserGroups(probe)
      : await store?.get(cacheKey('groups', probe));
  // `pool` is used after the last snapshot too: nothing the input needs is collected in between.
  if (pool.length === 0 || JSON.stringify(back) !== expected)
    throw new Error(`${variant}: read back ${JSON.stringify(back)}`);
  await provider?.close();

  return {
    variant,
    users,
    groupsPerUser: groupCount / users,
    nameBytesPerUser: nameBytes / users,
    emptyHeap: empty.heap - start.heap,
    emptyExternal: empty.external - start.external,
    fillHeap: filled.heap - empty.heap,
    fillExternal: filled.external - empty.external,
    fillMs,
  };
}

const variant = process.argv[2] ?? '';
const users = Number(process.env.BENCH_USERS ?? 100_000);
if (!VARIANTS.includes(variant)) throw new Error(`usage: cache-memory.ts ${VARIANTS.join('|')}`);
reportFromChild(() => measureVariant(variant as MemoryVariant, users));
