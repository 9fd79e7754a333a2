/**
 * Summarises a V8 `.cpuprofile` (saved with `BENCH_CPU_PROF=<dir>` or `node --cpu-prof`):
 * self and inclusive share of the samples per function, then busy time by owner.
 *
 *   npx tsx bench/tools/cpuprofile-summary.ts <file.cpuprofile> [top=25] [filter]
 *
 * `filter` keeps only functions whose label contains it (e.g. `src/`).
 */
import { attribute, functionShares, readProfile } from '../lib/profile.js';

const [path, topArg, filter] = process.argv.slice(2);
if (path === undefined) {
  console.error('usage: tsx bench/tools/cpuprofile-summary.ts <file.cpuprofile> [top] [filter]');
  process.exitCode = 2;
} else {
  const profile = readProfile(path);
  const top = Number(topArg ?? 25);
  const rows = functionShares(profile).filter((row) => filter === undefined || row.name.includes(filter));
  const pct = (share: number): string => `${(share * 100).toFixed(1).padStart(5)} %`;
  console.log('self     total    function (share of all samples, idle included)');
  for (const row of [...rows].sort((a, b) => b.self - a.self).slice(0, top)) {
    console.log(`${pct(row.self)}  ${pct(row.total)}  ${row.name}`);
  }
  const { busyUs, byCategory, byLibraryFunction } = attribute(profile);
  console.log(`\nbusy ${(busyUs / 1000).toFixed(0)} ms, by owner (Node core time goes to its caller):`);
  for (const [name, us] of [...byCategory].sort((a, b) => b[1] - a[1])) {
    console.log(`${pct(us / busyUs)}  ${name}`);
  }
  console.log('\nlibrary functions (nearest src/ frame):');
  for (const [name, us] of [...byLibraryFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${pct(us / busyUs)}  ${name}`);
  }
}
