/**
 * Issue #3: what `cernSso()` + `requireGroup()` cost on a signed-in request with a warm cache.
 *
 * A (baseline): express-session (MemoryStore) + a JSON route reading the session.
 * B (target):   A + `cernSso()` (against the emulator) + `requireGroup('it-dep')` on the route.
 * Two diagnostic sides split B's cost into steps:
 * C: A whose session holds a copy of B's session data  → C/A = the session size alone;
 * D: A + `cernSso()`, no guard (B's session)            → D/C = mounting `cernSso()`;
 *                                                          B/D = `requireGroup()` with a warm cache.
 * Servers run in child processes, autocannon here. After a warm-up the sides take turns in
 * rotating orders; every throughput ratio is the median of per-round ratios (samples close in
 * time). The server's CPU time per request (`process.cpuUsage()`) is the steadier cross-check, and
 * one profiled sample per side shows where that CPU time goes.
 * With `BENCH_COMPARE_DIST=<dir>/dist` a fifth side E runs B on that other build of the package
 * (e.g. `git stash; tsc -p tsconfig.build.json --outDir .tmp/before/dist`; `BENCH_COMPARE_LABEL`
 * names it in the report): B/E compares the two builds in the same rounds.
 */
import { basename, dirname, join, resolve } from 'node:path';
import { forkChild, type BenchChild } from '../lib/child.js';
import { cpuPerRequest, runPairedRounds, throughputRatio as ratio } from '../lib/paired.js';
import { PAIRED_ROUNDS, pairedRoundsNote } from '../lib/rounds.js';
import {
  libraryTable,
  ownerCell,
  ownerNames,
  profileSides,
  us,
  type ProfiledSide,
} from '../lib/side-profile.js';
import { fixed, median } from '../lib/stats.js';
import type { Suite, SuiteResult, Table, Verdict } from '../lib/types.js';
import type { SessionAppReady, Variant } from '../children/session-app.js';

const CONNECTIONS = PAIRED_ROUNDS.connections;
const TARGET = 0.9;
/** After the measured rounds: one profiled sample per side, for the CPU breakdown. */
const PROFILE_SEC = 2;
const PROFILE_INTERVAL_US = 250;

type Key = 'A' | 'B' | 'C' | 'D' | 'E';

interface Side extends ProfiledSide<SessionAppReady> {
  key: Key;
}

/** Proves the route answers 200 JSON for the signed-in user (not a redirect, 401 or 403). */
async function checkRoute(side: Side): Promise<void> {
  const { url, cookie } = side.child.data;
  const response = await fetch(url, {
    headers: { cookie, accept: 'application/json' },
    redirect: 'manual',
    signal: AbortSignal.timeout(5000),
  });
  const body = await response.text();
  if (response.status !== 200 || body !== '{"login":"jdoe"}') {
    throw new Error(
      `${side.label}: expected 200 {"login":"jdoe"}, got ${response.status} ${body.slice(0, 200)}`,
    );
  }
}

/** Busy CPU µs per request by owner (package, library, Node core, GC), and the steps between sides. */
function cpuTable(sides: Record<Exclude<Key, 'E'>, Side>, E: Side | undefined): Table {
  const { A, B, C, D } = sides;
  const compared = E === undefined ? [] : [E];
  const cell = ownerCell;
  const rows = [...ownerNames([A, B, C, D])]
    .map((name) => ({ name, b: cell(B, name), values: [A, C, D, B].map((side) => cell(side, name)) }))
    .filter((row) => Math.max(...row.values) >= 0.5)
    .sort((x, y) => y.b - x.b)
    .map(({ name }) => [
      name,
      ...[A, C, D, B].map((side) => us(cell(side, name))),
      us(cell(C, name) - cell(A, name)),
      us(cell(D, name) - cell(C, name)),
      us(cell(B, name) - cell(D, name)),
      us(cell(B, name) - cell(A, name)),
      ...compared.map((side) => us(cell(B, name) - cell(side, name))),
    ]);
  const total = cpuPerRequest;
  rows.push([
    '**total (CPU µs/req)**',
    ...[A, C, D, B].map((side) => us(total(side))),
    us(total(C) - total(A)),
    us(total(D) - total(C)),
    us(total(B) - total(D)),
    us(total(B) - total(A)),
    ...compared.map((side) => us(total(B) - total(side))),
  ]);
  return {
    headers: [
      'owner',
      'A',
      'C',
      'D',
      'B',
      'C − A session size',
      'D − C cernSso()',
      'B − D requireGroup()',
      'B − A',
      ...compared.map(() => 'B − E (comparison build)'),
    ],
    rows,
  };
}

async function run(): Promise<SuiteResult> {
  const children: BenchChild<SessionAppReady>[] = [];
  const start = async (variant: Variant, env: Record<string, string> = {}) => {
    const child = await forkChild<SessionAppReady>('children/session-app.ts', [variant], { env });
    children.push(child);
    return child;
  };
  try {
    const b = await start('sso');
    const payload = JSON.stringify(b.data.libraryPayload ?? null);
    const side = (key: Key, label: string, child: BenchChild<SessionAppReady>): Side => ({
      key,
      label,
      child,
      samples: [],
    });
    const sides: Record<Exclude<Key, 'E'>, Side> = {
      A: side('A', 'A baseline: session + route', await start('baseline')),
      B: side('B', "B = A + cernSso() + requireGroup('it-dep')", b),
      C: side(
        'C',
        "C = A with B's session data (diagnostic)",
        await start('baseline-fat', { BENCH_SESSION_PAYLOAD: payload }),
      ),
      D: side('D', 'D = A + cernSso(), no guard (diagnostic)', await start('sso-no-guard')),
    };
    const list = [sides.A, sides.B, sides.C, sides.D];
    const compareDist = process.env.BENCH_COMPARE_DIST;
    const E =
      compareDist === undefined
        ? undefined
        : side(
            'E',
            `E = B on ${process.env.BENCH_COMPARE_LABEL ?? `the build in ${basename(dirname(compareDist))}/`} (comparison)`,
            await start('sso', { BENCH_LIBRARY: join(resolve(compareDist), 'index.js') }),
          );
    if (E) list.push(E);
    for (const each of list) await checkRoute(each);

    await runPairedRounds(list, PAIRED_ROUNDS);
    await profileSides(list, {
      suite: 'require-group',
      seconds: PROFILE_SEC,
      intervalUs: PROFILE_INTERVAL_US,
      connections: CONNECTIONS,
    });
    // Still signed in and still a member after the load (nothing expired or got evicted).
    for (const each of list) await checkRoute(each);

    const { A, B, C, D } = sides;
    const target = ratio(B, A, 'throughput B/A', TARGET);
    const verdicts: Verdict[] = [
      target,
      {
        metric: 'CPU per request A/B (cross-check: steadier than throughput on a busy machine)',
        ratio: cpuPerRequest(A) / cpuPerRequest(B),
        target: `≥ ${fixed(TARGET, 2)}`,
        pass: cpuPerRequest(A) / cpuPerRequest(B) >= TARGET,
      },
      ratio(C, A, "throughput C/A: B's session size alone"),
      ratio(D, C, 'throughput D/C: mounting cernSso() (same session)'),
      ratio(B, D, 'throughput B/D: requireGroup() with a warm cache'),
      ...(E === undefined
        ? []
        : [
            ratio(B, E, 'throughput B/E: this build against the comparison build'),
            {
              metric: 'CPU per request E/B (this build against the comparison build)',
              ratio: cpuPerRequest(E) / cpuPerRequest(B),
            },
          ]),
    ];
    const row = (each: Side): string[] => [
      each.label,
      `${each.child.data.sessionBytes} B`,
      fixed(median(each.samples.map((s) => s.reqPerSec))),
      fixed(median(each.samples.map((s) => s.p50)), 1),
      fixed(median(each.samples.map((s) => s.p99)), 1),
      us(cpuPerRequest(each)),
      each === A ? '1.000' : fixed(ratio(each, A, '').ratio, 3),
      each === B ? `≥ ${fixed(TARGET, 2)} ${target.pass === true ? 'PASS' : 'FAIL'}` : '',
      each.samples.map((s) => fixed(s.reqPerSec)).join(' / '),
    ];

    return {
      summary:
        'Signed-in `GET /api/data` (JSON) with a warm group cache; the user is in 304 e-groups, as a CERN staff member may be. A = express-session (MemoryStore) + route; ' +
        "B = A + `cernSso()` (against the emulator) + `requireGroup('it-dep')`. Diagnostics: C = A whose " +
        "session holds a copy of B's session data, D = A + `cernSso()` without the guard. Servers in child " +
        'processes, autocannon in the parent.',
      settings: {
        connections: CONNECTIONS,
        ...pairedRoundsNote(),
      },
      table: {
        headers: [
          'variant',
          'session (JSON)',
          'req/s (median)',
          'p50 ms',
          'p99 ms',
          'CPU µs/req',
          'req/s ratio vs A',
          'target',
          'req/s per round',
        ],
        rows: list.map(row),
      },
      verdicts,
      extraTables: [
        { title: 'Where the CPU goes (µs per request, by owner)', table: cpuTable(sides, E) },
        { title: 'Library functions', table: libraryTable(B) },
        ...(E === undefined
          ? []
          : [{ title: 'Library functions (comparison build)', table: libraryTable(E) }]),
      ],
      notes: [
        'CPU µs/req = CPU time of the server process (user + system, all threads, `process.cpuUsage()`) ' +
          'during a sample divided by the requests it answered; median over the rounds.',
        `CPU by owner: each side's CPU µs/req split by the shares of one extra ${PROFILE_SEC} s sample under ` +
          `the V8 sampling profiler (${PROFILE_INTERVAL_US} µs). A profile sample goes to the nearest frame on ` +
          'its stack that belongs to a package, the library (`dist/`) or the app (`bench/`); Node core and V8 ' +
          'builtins (timers, crypto, JSON, promise jobs) count for their caller, "node core" is what has no ' +
          'owner at all (HTTP parsing, socket writes, microtask and timer queues). Steps smaller than ~5 µs ' +
          'are within noise.',
        'Library functions: "own" = time attributed to that function (incl. Node core it calls), ' +
          '"inclusive" = samples with the function anywhere on the stack (an async function only shows ' +
          'from where it resumed). The servers load the compiled package (`dist/`, built by `npm run bench`), ' +
          'as an app installing it would.',
      ],
    };
  } finally {
    await Promise.all(children.map((child) => child.stop()));
  }
}

const suite: Suite = { name: 'require-group', run };
export default suite;
