/**
 * Paired, interleaved rounds: the way every throughput suite compares its sides.
 *
 * Each side is a server in a child process. After a warm-up, every round loads each side once,
 * in an order rotated by the round (every other round backwards), so slow phases of a busy
 * machine hit every side alike; a ratio is the median of the per-round ratios (samples close in
 * time), with the min–max. The server's CPU time per request (`process.cpuUsage()` of the child)
 * is measured next to throughput: it is steadier when the machine is shared.
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

export interface RoundSettings {
  connections: number;
  warmupSec: number;
  sampleSec: number;
  rounds: number;
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

/**
 * Warm-up (not measured), then `rounds` rounds in rotating order; fills each side's `samples`.
 * The servers run pinned to one core and the load generator to the other(s) meanwhile (see
 * `pin.ts`); resolves to whether they were.
 */
export async function runPairedRounds(
  sides: readonly PairedSide[],
  settings: RoundSettings,
): Promise<boolean> {
  const unpin = pinServers(sides.map((side) => side.child.pid));
  try {
    for (const side of sides) await loadSide(side, settings.warmupSec, settings.connections);
    for (let round = 0; round < settings.rounds; round++) {
      for (const index of roundOrder(round, sides.length)) {
        const side = sides[index]!;
        side.samples.push(await loadSide(side, settings.sampleSec, settings.connections));
      }
    }
  } finally {
    unpin?.();
  }
  return unpin !== undefined;
}

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
