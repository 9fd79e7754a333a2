/**
 * Memory of 100 000 users' cached groups (~10 e-groups each) in `memoryCache({ max: 200_000 })`,
 * in the identity provider's own format (`seedUserGroups()`), against a plain `Map` of the same
 * data. Each measurement runs in a fresh child with `--expose-gc`: heapUsed (and external, where
 * lru-cache's typed arrays live) after full GCs, before and after filling. No target.
 */
import { forkChild } from '../lib/child.js';
import { MB, fixed, median } from '../lib/stats.js';
import type { Suite, SuiteResult, Verdict } from '../lib/types.js';
import type { MemoryMeasurement, MemoryVariant } from '../children/cache-memory.js';

const USERS = 100_000;
const ROUNDS = 3;

const LABELS: Record<MemoryVariant, string> = {
  map: 'Map<login, string[]> (baseline)',
  store: 'memoryCache() store only (library key, no entry wrapper)',
  provider: 'identity provider: seedUserGroups() → memoryCache()',
};

interface Summary {
  variant: MemoryVariant;
  /** Medians over the rounds. */
  emptyHeap: number;
  emptyExternal: number;
  fillHeap: number;
  fillExternal: number;
  fillMs: number;
  groupsPerUser: number;
  nameBytesPerUser: number;
}

async function measureOnce(variant: MemoryVariant): Promise<MemoryMeasurement> {
  const child = await forkChild<MemoryMeasurement>('children/cache-memory.ts', [variant], {
    nodeFlags: ['--expose-gc'],
    env: { BENCH_USERS: String(USERS) },
    startTimeoutMs: 60_000,
  });
  await child.stop();
  return child.data;
}

async function run(): Promise<SuiteResult> {
  const variants: MemoryVariant[] = ['map', 'store', 'provider'];
  const measurements = new Map<MemoryVariant, MemoryMeasurement[]>(variants.map((v) => [v, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order: no variant always runs first (or last) on a busy machine.
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(i + round) % variants.length]!;
      measurements.get(variant)?.push(await measureOnce(variant));
    }
  }
  const summaries: Summary[] = variants.map((variant) => {
    const list = measurements.get(variant) ?? [];
    const mid = (pick: (m: MemoryMeasurement) => number): number => median(list.map(pick));
    return {
      variant,
      emptyHeap: mid((m) => m.emptyHeap),
      emptyExternal: mid((m) => m.emptyExternal),
      fillHeap: mid((m) => m.fillHeap),
      fillExternal: mid((m) => m.fillExternal),
      fillMs: mid((m) => m.fillMs),
      groupsPerUser: mid((m) => m.groupsPerUser),
      nameBytesPerUser: mid((m) => m.nameBytesPerUser),
    };
  });
  const heap = (s: Summary): number => s.emptyHeap + s.fillHeap;
  const all = (s: Summary): number => heap(s) + s.emptyExternal + s.fillExternal;
  const base = summaries[0]!;
  const mb = (bytes: number): string => fixed(bytes / MB, 1);
  const perUser = (bytes: number): string => fixed(bytes / USERS);

  const verdicts: Verdict[] = summaries.slice(1).map((s) => ({
    metric: `heapUsed ${s.variant}/map (${LABELS[s.variant]})`,
    ratio: heap(s) / heap(base),
  }));
  const first = summaries[0]!;
  return {
    summary:
      `Memory of ${fixed(USERS)} users' cached e-groups (${fixed(first.groupsPerUser, 1)} per user, ` +
      `${fixed(first.nameBytesPerUser)} bytes of names per user, each list freshly parsed from JSON as the ` +
      'AuthZ API delivers it) in `memoryCache({ max: 200_000 })`, versus the same data in a plain `Map`. ' +
      'Fresh child per measurement, `--expose-gc`, heapUsed after full GCs.',
    settings: {
      users: USERS,
      'memoryCache max': '200 000',
      rounds: `${ROUNDS} per variant, rotating order, median`,
    },
    table: {
      headers: [
        'variant',
        'heapUsed Δ MB',
        'bytes/user (heap)',
        'of which empty structure MB',
        'external Δ MB',
        'bytes/user (heap + external)',
        'heap ratio vs Map',
        'fill ms',
      ],
      rows: summaries.map((s) => [
        LABELS[s.variant],
        mb(heap(s)),
        perUser(heap(s)),
        mb(s.emptyHeap),
        mb(s.emptyExternal + s.fillExternal),
        perUser(all(s)),
        fixed(heap(s) / heap(base), 2),
        fixed(s.fillMs),
      ]),
    },
    verdicts,
    notes: [
      'heapUsed Δ = growth from before creating the structure to after filling it (empty-structure cost ' +
        'included: lru-cache allocates its key/value lists for `max` entries up front). external = ' +
        "lru-cache's typed arrays (links, TTLs, start times), outside the JS heap.",
    ],
  };
}

const suite: Suite = { name: 'cache-memory', run };
export default suite;
