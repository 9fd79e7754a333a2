/**
 * Where a paired side's CPU goes: one extra load sample under the V8 sampling profiler, its shares
 * scaled by the side's median CPU µs per request from the unprofiled rounds (the profiler slows
 * everything), and the tables the suites report from it.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cpuPerRequest, loadSide, type LoadTarget, type PairedSide } from './paired.js';
import { attribute, type Attribution } from './profile.js';
import { fixed } from './stats.js';
import type { Table } from './types.js';

/** Profile of one extra sample; `perRequest` spreads the median CPU µs/req by profile share. */
export interface SideCpu {
  perRequest: (busyUs: number) => number;
  attribution: Attribution;
}

export interface ProfiledSide<D extends LoadTarget = LoadTarget> extends PairedSide<D> {
  cpu?: SideCpu;
}

export interface ProfileSettings {
  /** Names the saved profile: `<suite>-<key>.cpuprofile`. */
  suite: string;
  seconds: number;
  intervalUs: number;
  connections: number;
}

/** µs with one decimal. */
export const us = (value: number): string => fixed(value, 1);

/** Profiles one more sample of `side`; `BENCH_CPU_PROF=<dir>` also saves the profile there. */
export async function profileSide(side: ProfiledSide, settings: ProfileSettings): Promise<void> {
  const { profile } = await side.child.profile(
    () => loadSide(side, settings.seconds, settings.connections),
    settings.intervalUs,
  );
  const dir = process.env.BENCH_CPU_PROF;
  if (dir) await writeFile(join(dir, `${settings.suite}-${side.key}.cpuprofile`), JSON.stringify(profile));
  const attribution = attribute(profile);
  // Shares from the profile, scale from the unprofiled samples (the profiler slows everything).
  const scale = cpuPerRequest(side) / attribution.busyUs;
  side.cpu = { perRequest: (busyUs) => busyUs * scale, attribution };
}

/** {@link profileSide} for each side of `list`, one after the other. */
export async function profileSides(list: readonly ProfiledSide[], settings: ProfileSettings): Promise<void> {
  for (const side of list) await profileSide(side, settings);
}

/** Busy CPU µs per request of `side` spent by one owner (package, library, Node core, GC). */
export function ownerCell(side: ProfiledSide, name: string): number {
  return side.cpu?.perRequest(side.cpu.attribution.byCategory.get(name) ?? 0) ?? 0;
}

/** Every owner seen in the profiles of `list`. */
export function ownerNames(list: readonly ProfiledSide[]): Set<string> {
  const names = new Set<string>();
  for (const side of list) for (const name of side.cpu?.attribution.byCategory.keys() ?? []) names.add(name);
  return names;
}

/** Busy CPU µs per request by owner (package, library, Node core, GC), per side. */
export function ownerTable(list: readonly ProfiledSide[]): Table {
  const rows = [...ownerNames(list)]
    .map((name) => ({ name, values: list.map((side) => ownerCell(side, name)) }))
    .filter((row) => Math.max(...row.values) >= 0.5)
    .sort((x, y) => Math.max(...y.values) - Math.max(...x.values))
    .map(({ name, values }) => [name, ...values.map(us)]);
  rows.push(['**total (CPU µs/req)**', ...list.map((side) => us(cpuPerRequest(side)))]);
  return { headers: ['owner', ...list.map((side) => side.key)], rows };
}

/** The library's own functions (Node core time under them included), µs per request. */
export function libraryTable(side: ProfiledSide): Table {
  const cpu = side.cpu;
  const headers = [`library function (${side.key})`, 'own µs/req', 'inclusive µs/req'];
  if (!cpu) return { headers, rows: [] };
  const rows = [...cpu.attribution.byLibraryFunction]
    .sort((x, y) => y[1] - x[1])
    .slice(0, 12)
    .map(([name, value]) => [
      `\`${name}\``,
      us(cpu.perRequest(value)),
      us(cpu.perRequest(cpu.attribution.inclusiveByLibraryFunction.get(name) ?? 0)),
    ]);
  return { headers, rows };
}
