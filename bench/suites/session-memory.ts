/**
 * Issue #14, scale: memory per signed-in session, records included, for 100 000 sessions.
 *
 * The library keeps per signed-in session a small pointer in the express-session session and a
 * sign-in record (tokens + claims) next to it in the session store, plus up to 10 000 parsed
 * records held in process. One real login through the emulator, cloned 100 000 times with fresh
 * ids and token strings; then signed-in requests for 12 000 distinct sessions (all must answer
 * 200), which fill the in-process record cache as in production. Reference: express-session
 * sessions holding only `{ user: { login } }`. On MemoryStore (heap) and on connect-redis (Redis
 * `used_memory`, plus the app's heap). Each measurement in a fresh `--expose-gc` child.
 */
import { startRedis, type TestRedis } from '../../test/helpers/redis.js';
import { forkChild } from '../lib/child.js';
import { quick } from '../lib/paired.js';
import { MB, fixed, median } from '../lib/stats.js';
import type { Suite, SuiteResult, Verdict } from '../lib/types.js';
import type { SessionMemoryMeasurement, SessionMemoryVariant } from '../children/session-memory.js';

const SESSIONS = quick ? 10_000 : 100_000;
/** Distinct sessions that make a request: more than the 10 000 records held in process. */
const REQUESTED = quick ? 10_000 : 12_000;
/** One by default: a run fills ~0.5 GB and takes tens of seconds. `BENCH_SESSION_ROUNDS` for more. */
const ROUNDS = Math.max(1, Number(process.env.BENCH_SESSION_ROUNDS ?? 1));
/** The library's cap on parsed records held per process (src/auth/session-records.ts). */
const MAX_HELD_RECORDS = 10_000;

const VARIANTS: SessionMemoryVariant[] = ['reference', 'library', 'reference-redis', 'library-redis'];
const LABELS: Record<SessionMemoryVariant, string> = {
  reference: 'reference: MemoryStore, session `{ user: { login } }`',
  library: '`cernSso()`: MemoryStore, pointer + sign-in record',
  'reference-redis': 'reference: connect-redis, session `{ user: { login } }`',
  'library-redis': '`cernSso()`: connect-redis, pointer + sign-in record',
};

async function measureOnce(
  variant: SessionMemoryVariant,
  redis: TestRedis,
): Promise<SessionMemoryMeasurement> {
  const child = await forkChild<SessionMemoryMeasurement>('children/session-memory.ts', [variant], {
    // 100 000 sessions of ~5 KB of JSON each are ~0.5 GB of heap on MemoryStore.
    nodeFlags: ['--expose-gc', '--max-old-space-size=4096'],
    env: {
      BENCH_SESSIONS: String(SESSIONS),
      BENCH_REQUESTED: String(REQUESTED),
      BENCH_REDIS_SOCKET: redis.socket,
    },
    startTimeoutMs: 120_000,
  });
  await child.stop();
  const result = child.data;
  if (result.failures > 0) throw new Error(`${variant}: ${result.failures} requests were not 200 signed in`);
  return result;
}

interface Summary {
  variant: SessionMemoryVariant;
  /** Medians over the rounds, bytes. */
  storeHeap: number;
  storeAll: number;
  requestsAll: number;
  redisStore: number | undefined;
  sessionJson: number;
  recordJson: number;
  fillMs: number;
  requestMs: number;
}

function summarise(variant: SessionMemoryVariant, list: SessionMemoryMeasurement[]): Summary {
  const mid = (pick: (m: SessionMemoryMeasurement) => number): number => median(list.map(pick));
  const redis = list.map((m) => m.redisStore).filter((value) => value !== undefined);
  return {
    variant,
    storeHeap: mid((m) => m.storeHeap),
    storeAll: mid((m) => m.storeHeap + m.storeExternal),
    requestsAll: mid((m) => m.requestsHeap + m.requestsExternal),
    redisStore: redis.length > 0 ? median(redis) : undefined,
    sessionJson: mid((m) => m.sessionJsonBytes),
    recordJson: mid((m) => m.recordJsonBytes),
    fillMs: mid((m) => m.fillMs),
    requestMs: mid((m) => m.requestMs),
  };
}

async function run(): Promise<SuiteResult> {
  const redis = await startRedis();
  const measurements = new Map<SessionMemoryVariant, SessionMemoryMeasurement[]>(
    VARIANTS.map((v) => [v, []]),
  );
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < VARIANTS.length; i++) {
        const variant = VARIANTS[(i + round) % VARIANTS.length]!;
        measurements.get(variant)?.push(await measureOnce(variant, redis));
      }
    }
  } finally {
    await redis.stop();
  }
  const s = new Map(VARIANTS.map((v) => [v, summarise(v, measurements.get(v) ?? [])]));
  const get = (variant: SessionMemoryVariant): Summary => s.get(variant)!;
  const perSession = (bytes: number): number => bytes / SESSIONS;
  const held = Math.min(REQUESTED, MAX_HELD_RECORDS);
  const total = (x: Summary): number => x.storeAll + x.requestsAll;
  const lib = get('library');
  const ref = get('reference');
  const libRedis = get('library-redis');
  const refRedis = get('reference-redis');
  const parts = measurements.get('library')?.[0]?.recordParts ?? {};
  const partsText = Object.entries(parts)
    .map(([name, bytes]) => `${name} ${fixed(bytes)} B`)
    .join(', ');
  const cell = (bytes: number | undefined, digits = 0): string =>
    bytes === undefined ? '–' : fixed(bytes, digits);

  const verdicts: Verdict[] = [
    {
      metric: 'MemoryStore: bytes per session (store + held records), library / reference',
      ratio: total(lib) / total(ref),
    },
    {
      metric: 'connect-redis: Redis used_memory per session, library / reference',
      ratio: (libRedis.redisStore ?? NaN) / (refRedis.redisStore ?? NaN),
    },
  ];
  return {
    summary:
      `Memory of ${fixed(SESSIONS)} signed-in sessions: one real login through the emulator, its session and ` +
      'sign-in record (tokens + claims) cloned with fresh ids and token strings of the same length, written ' +
      `through the store's own \`set\`; then signed-in requests for ${fixed(REQUESTED)} distinct sessions (all 200), ` +
      `which fill the library's in-process record cache (at most ${fixed(MAX_HELD_RECORDS)} parsed records). ` +
      'Reference: express-session sessions holding only `{ user: { login } }`. Fresh `--expose-gc` child per ' +
      'measurement; heapUsed + external after full GCs; on Redis also `INFO memory` used_memory.',
    settings: {
      sessions: SESSIONS,
      'distinct sessions requested': REQUESTED,
      rounds: `${ROUNDS} per variant${ROUNDS > 1 ? ', rotating order, median' : ' (a run fills ~0.5 GB)'}`,
    },
    table: {
      headers: [
        'variant',
        'session JSON B',
        'record JSON B',
        'store: heap+ext B/session',
        'store: Redis used_memory B/session',
        'held records: heap+ext MB',
        'held: B/record',
        'app heap total MB',
        'B/session (heap + Redis)',
        'fill s',
        'requests/s',
      ],
      rows: VARIANTS.map((variant) => {
        const x = get(variant);
        const withHeld = variant.startsWith('library');
        return [
          LABELS[variant],
          fixed(x.sessionJson),
          withHeld ? fixed(x.recordJson) : '–',
          fixed(perSession(x.storeAll)),
          cell(x.redisStore === undefined ? undefined : perSession(x.redisStore)),
          fixed(x.requestsAll / MB, 1),
          withHeld ? fixed(x.requestsAll / held) : '–',
          fixed(total(x) / MB, 1),
          fixed(perSession(total(x) + (x.redisStore ?? 0))),
          fixed(x.fillMs / 1000, 1),
          fixed(REQUESTED / (x.requestMs / 1000)),
        ];
      }),
    },
    verdicts,
    notes: [
      `Per session = growth / ${fixed(SESSIONS)}. "store" is the growth from filling the store (the sessions ` +
        'and, for the library, their sign-in records); "held records" the growth from the signed-in requests: ' +
        `the parsed, frozen records the library keeps in process (LRU, at most ${fixed(MAX_HELD_RECORDS)}, so ` +
        `${fixed(held)} here) with what hangs off them (mapped user, logout-check memo). It does not grow ` +
        'with the number of sessions beyond that cap.',
      'On connect-redis the sessions and records live in Redis: the app heap grows by the held records only ' +
        '(and node-redis buffers). MemoryStore keeps each entry as its JSON string.',
      `What a sign-in record is made of (JSON): ${partsText}; the rest is the entry's cookie and times.`,
      'No target: the record (tokens + claims, ~4 KB) is what a signed-in OIDC session needs; ' +
        'the reference shows what a session without tokens costs.',
    ],
  };
}

const suite: Suite = { name: 'session-memory', run };
export default suite;
