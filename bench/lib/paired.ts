/**
 * Paired rounds: the way every throughput suite compares its sides.
 *
 * Each side is a server in a child process; a ratio is the median of the per-round ratios, with
 * the min–max. The server's CPU time per request (`process.cpuUsage()` of the child) is measured
 * next to throughput. Two schedules (`RoundSettings.schedule`):
 *
 * - `rotating` (the default): one side at a time, in an order rotated by the round (every other
 *   round backwards), so slow phases of a busy machine hit every side alike on average; each side
 *   has the machine to itself, as a production instance has its core.
 * - `simultaneous` (`BENCH_SCHEDULE=simultaneous`): every server pinned to the last core, the
 *   load generator to the other(s); each round loads all sides at once, each with its own
 *   connections, so every slow phase of a shared host hits all sides in the same milliseconds.
 *   Per round it is much steadier (two identical servers: 0.92–1.17 against 0.64–1.78), but it
 *   is not the same measure: seven servers taking turns on one core find their caches cold at
 *   every turn, which costs more to the sides that touch more code and data per request, and
 *   a cheap side waiting for the load generator leaves its share to the others. Its ratios came
 *   out lower for every side doing real work (bench/README.md has the figures). Absolute req/s
 *   are shares of one core: only ratios mean anything.
 */
import type { BenchChild } from './child.js';
import { measure, type LoadOptions, type LoadSample } from './load.js';
import { pinServers } from './pin.js';
import { fixed, median } from './stats.js';
import type { Verdict } from './types.js';

export interface Sample extends LoadSample {
  /** CPU time (user + system, all threads) the server spent per answered request, µs. */
  cpuUs: number;
}

/** What a side's child reports when ready: the route to load and how to call it. */
export interface LoadTarget {
  url: string;
  /** `Cookie` header of a signed-in session, if any. */
  cookie?: string;
  /** Further request headers (e.g. `authorization`). */
  headers?: Record<string, string>;
  /** `Cookie` headers of many signed-in users, one per request in turn (instead of `cookie`). */
  cookies?: readonly string[];
}

export interface PairedSide<D extends LoadTarget = LoadTarget> {
  key: string;
  label: string;
  child: BenchChild<D>;
  samples: Sample[];
}

export type Schedule = 'simultaneous' | 'rotating';

export interface RoundSettings {
  connections: number;
  warmupSec: number;
  sampleSec: number;
  rounds: number;
  schedule: Schedule;
}

/** `BENCH_QUICK=1`: a short run that only shows the suite works (numbers are not worth keeping). */
export const quick = process.env.BENCH_QUICK === '1';

/** The request headers of `target` (cookie and extra headers), JSON accepted. */
export function headersOf(target: LoadTarget): Record<string, string> {
  return {
    accept: 'application/json',
    ...(target.cookie === undefined ? {} : { cookie: target.cookie }),
    ...target.headers,
  };
}

/** One autocannon run against `side`, with the server's CPU time per request. */
export async function loadSide(side: PairedSide, durationSec: number, connections: number): Promise<Sample> {
  const target = side.child.data;
  const before = await side.child.cpuUsage();
  const sample = await measure(target.url, {
    connections,
    durationSec,
    headers: headersOf(target),
    ...(target.cookies === undefined ? {} : { cookies: target.cookies }),
  } satisfies LoadOptions);
  const after = await side.child.cpuUsage();
  const cpu = after.user - before.user + after.system - before.system;
  return { ...sample, cpuUs: cpu / sample.requests };
}

/** Round `round` visits the sides rotated by `round`, every other round backwards. */
export function roundOrder(round: number, count: number): number[] {
  const rotated = Array.from({ length: count }, (_, i) => (i + round) % count);
  return round % 2 === 0 ? rotated : rotated.reverse();
}

/** Loads every side at once for `durationSec` (see `simultaneous` above). */
async function loadAll(
  sides: readonly PairedSide[],
  durationSec: number,
  connections: number,
): Promise<Sample[]> {
  return Promise.all(sides.map((side) => loadSide(side, durationSec, connections)));
}

/**
 * Warm-up (not measured), then `rounds` rounds; fills each side's `samples`. Resolves to the
 * schedule used: `simultaneous` needs the servers pinned to one core (Linux `taskset`, two cores
 * or more) and falls back to `rotating` where they cannot be. With `rotating`, `BENCH_PIN=1`
 * pins too (see `pin.ts`).
 */
export async function runPairedRounds(
  sides: readonly PairedSide[],
  settings: RoundSettings,
): Promise<Schedule> {
  const pids = sides.map((side) => side.child.pid);
  const unpin = settings.schedule === 'simultaneous' ? pinServers(pids, true) : pinServers(pids);
  const schedule: Schedule = settings.schedule === 'simultaneous' && unpin ? 'simultaneous' : 'rotating';
  lastSchedule = schedule;
  try {
    if (schedule === 'simultaneous') {
      await loadAll(sides, settings.warmupSec, settings.connections);
      for (let round = 0; round < settings.rounds; round++) {
        const samples = await loadAll(sides, settings.sampleSec, settings.connections);
        sides.forEach((side, i) => side.samples.push(samples[i]!));
      }
      return schedule;
    }
    for (const side of sides) await loadSide(side, settings.warmupSec, settings.connections);
    for (let round = 0; round < settings.rounds; round++) {
      for (const index of roundOrder(round, sides.length)) {
        const side = sides[index]!;
        side.samples.push(await loadSide(side, settings.sampleSec, settings.connections));
      }
    }
    return schedule;
  } finally {
    unpin?.();
  }
}

/** The schedule of the last {@link runPairedRounds}, for a suite's settings. */
let lastSchedule: Schedule = 'rotating';
export const lastRoundsSchedule = (): Schedule => lastSchedule;

export const cpuPerRequest = (side: PairedSide): number => median(side.samples.map((s) => s.cpuUs));
export const medianReqPerSec = (side: PairedSide): number => median(side.samples.map((s) => s.reqPerSec));

/** Median over the rounds of `top[i] / bottom[i]` throughput, with the spread and optional target. */
export function throughputRatio(
  top: PairedSide,
  bottom: PairedSide,
  metric: string,
  target?: number,
): Verdict {
  const ratios = top.samples.map((sample, i) => sample.reqPerSec / bottom.samples[i]!.reqPerSec);
  const value = median(ratios);
  return {
    metric,
    ratio: value,
    spread: { min: Math.min(...ratios), max: Math.max(...ratios) },
    ...(target === undefined ? {} : { target: `≥ ${fixed(target, 2)}`, pass: value >= target }),
  };
}

/** CPU per request `bottom / top` (how many of `top`'s requests fit in the CPU time of one of `bottom`'s). */
export function cpuRatio(top: PairedSide, bottom: PairedSide, metric: string, target?: number): Verdict {
  const value = cpuPerRequest(bottom) / cpuPerRequest(top);
  return {
    metric,
    ratio: value,
    ...(target === undefined ? {} : { target: `≥ ${fixed(target, 2)}`, pass: value >= target }),
  };
}

/** Standard row cells: req/s (median), p50, p99, CPU µs/req, per-round req/s. */
export function sideCells(side: PairedSide): {
  reqPerSec: string;
  p50: string;
  p99: string;
  cpuUs: string;
  perRound: string;
} {
  return {
    reqPerSec: fixed(medianReqPerSec(side)),
    p50: fixed(median(side.samples.map((s) => s.p50)), 1),
    p99: fixed(median(side.samples.map((s) => s.p99)), 1),
    cpuUs: fixed(cpuPerRequest(side), 1),
    perRound: side.samples.map((s) => fixed(s.reqPerSec)).join(' / '),
  };
}
