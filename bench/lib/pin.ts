/**
 * Optional CPU pinning for throughput rounds (`BENCH_PIN=1`): the servers on the last core, the
 * load generator (this process, autocannon) on the others, so the scheduler never puts both on
 * one core. Off by default: measured on the 2-core VM of bench/RESULTS.md it did not make the
 * rounds steadier (the host's own load dominates), and it changes what is measured: a server's
 * GC helper threads then share its core, so sides that allocate more (larger sessions) pay more
 * CPU per request than unpinned. Linux `taskset` (util-linux); where it is missing, or with a
 * single core, nothing is pinned; the suites' settings say which.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';

function taskset(cores: string, pid: number): boolean {
  // -a: every thread of the process (libuv's pool, V8's GC helpers); later threads inherit it.
  const result = spawnSync('taskset', ['-a', '-p', '-c', cores, String(pid)], { stdio: 'ignore' });
  return result.status === 0;
}

/**
 * Pins `serverPids` to the last core and this process to the others (with `required`, the
 * default being `BENCH_PIN=1`); returns a function that
 * gives this process every core back (processes forked later inherit the parent's affinity), or
 * `undefined` when nothing could be pinned.
 */
export function pinServers(
  serverPids: readonly number[],
  required = process.env.BENCH_PIN === '1',
): (() => void) | undefined {
  lastPinned = false;
  const cores = os.availableParallelism();
  if (!required || cores < 2 || process.platform !== 'linux') return undefined;
  const last = String(cores - 1);
  const rest = cores === 2 ? '0' : `0-${cores - 2}`;
  if (!taskset(rest, process.pid)) return undefined;
  const all = `0-${cores - 1}`;
  const restore = (): void => {
    taskset(all, process.pid);
  };
  if (!serverPids.every((pid) => taskset(last, pid))) {
    restore();
    return undefined;
  }
  lastPinned = true;
  return restore;
}

/** Whether the last {@link pinServers} pinned anything. */
let lastPinned = false;

/** How the last rounds were scheduled, for a suite's settings. */
export function schedulingNote(): string {
  return lastPinned
    ? 'servers pinned to the last core, the load generator to the other(s) (taskset)'
    : 'not pinned (the default; BENCH_PIN=1 pins the servers to one core)';
}
