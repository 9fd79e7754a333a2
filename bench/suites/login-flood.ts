/**
 * Server-side state left by a flood of anonymous `GET /login` (issue #8, "no state before
 * login"): 20 000 requests to an app with express-session (MemoryStore, `saveUninitialized:
 * false`) and `cernSso()`; sessions stored and heap growth after full GCs, per request. Target:
 * under 50 bytes per request. Reference: the same app with `saveUninitialized: true` (a session
 * per request). Each measurement in a fresh `--expose-gc` child; 3 rounds, median.
 */
import { forkChild } from '../lib/child.js';
import { fixed, median } from '../lib/stats.js';
import type { Suite, SuiteResult, Verdict } from '../lib/types.js';
import type { FloodMeasurement, FloodVariant } from '../children/login-flood.js';

const REQUESTS = 20_000;
const ROUNDS = 3;
const TARGET_BYTES = 50;

const LABELS: Record<FloodVariant, string> = {
  library: 'cernSso(), saveUninitialized: false (as documented)',
  'session-per-request': 'reference: saveUninitialized: true (a session per request)',
};

async function measureOnce(variant: FloodVariant): Promise<FloodMeasurement> {
  const child = await forkChild<FloodMeasurement>('children/login-flood.ts', [variant], {
    nodeFlags: ['--expose-gc'],
    env: { BENCH_REQUESTS: String(REQUESTS) },
    startTimeoutMs: 150_000,
  });
  await child.stop();
  return child.data;
}

async function run(): Promise<SuiteResult> {
  const variants: FloodVariant[] = ['library', 'session-per-request'];
  const measurements = new Map<FloodVariant, FloodMeasurement[]>(variants.map((v) => [v, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < variants.length; i++) {
      const variant = variants[(i + round) % variants.length]!;
      const result = await measureOnce(variant);
      if (result.unexpected > 0) throw new Error(`${variant}: ${result.unexpected} answers were not a 302`);
      measurements.get(variant)?.push(result);
    }
  }
  const summary = (variant: FloodVariant) => {
    const list = measurements.get(variant) ?? [];
    const mid = (pick: (m: FloodMeasurement) => number): number => median(list.map(pick));
    return {
      variant,
      sessions: mid((m) => m.sessionsAfter - m.sessionsBefore),
      sessionCookies: mid((m) => m.sessionCookies),
      heapPerRequest: mid((m) => m.heapGrowth / m.requests),
      allPerRequest: mid((m) => (m.heapGrowth + m.externalGrowth) / m.requests),
      perRound: list.map((m) => fixed(m.heapGrowth / m.requests, 1)).join(' / '),
      loginCookieBytes: mid((m) => m.loginCookieBytes),
      requestsPerSec: mid((m) => m.requests / (m.floodMs / 1000)),
    };
  };
  const library = summary('library');
  const reference = summary('session-per-request');
  const rows = [library, reference];
  const verdicts: Verdict[] = [
    {
      metric: 'heap bytes retained per anonymous GET /login (library, after GC)',
      ratio: library.heapPerRequest,
      target: `< ${TARGET_BYTES} bytes`,
      pass: library.heapPerRequest < TARGET_BYTES && library.sessions === 0,
    },
    {
      metric: 'heap per request, library / session-per-request reference',
      ratio: library.heapPerRequest / reference.heapPerRequest,
    },
  ];
  return {
    summary:
      `${fixed(REQUESTS)} anonymous \`GET /login\` (16 at a time, keep-alive) to an app with express-session ` +
      '(MemoryStore) and `cernSso()` against the emulator; sessions stored and heapUsed growth after full GCs, ' +
      'divided by the number of requests. Fresh `--expose-gc` child per measurement, after a 500-request warm-up.',
    settings: {
      requests: REQUESTS,
      rounds: `${ROUNDS} per variant, rotating order, median`,
      target: `< ${TARGET_BYTES} B/request`,
    },
    table: {
      headers: [
        'variant',
        'sessions stored',
        'session cookies set',
        'heap B/request',
        'heap + external B/request',
        'heap B/request per round',
        'login cookies B/response',
        'req/s (context)',
      ],
      rows: rows.map((s) => [
        LABELS[s.variant],
        fixed(s.sessions),
        fixed(s.sessionCookies),
        fixed(s.heapPerRequest, 1),
        fixed(s.allPerRequest, 1),
        s.perRound,
        fixed(s.loginCookieBytes),
        fixed(s.requestsPerSec),
      ]),
    },
    verdicts,
    notes: [
      'The pending login travels in the browser (a sealed cookie per login, `Path` = the callback route, and ' +
        'a tiny marker cookie on the login route): the server keeps nothing per request. The small residue does not ' +
        'grow with the number of requests (one-off runs: 1.19 MB after 5 000 requests, 0.19 MB after 60 000): ' +
        'lazily grown structures of V8 and Node, not per-request state.',
      'The reference stores one session per request (its JSON is ~120 bytes plus MemoryStore overhead); ' +
        'before this change each anonymous /login also stored the pending login in it (~670 bytes measured).',
    ],
  };
}

const suite: Suite = { name: 'login-flood', run };
export default suite;
