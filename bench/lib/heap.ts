/** Memory of a child process (run with `--expose-gc`) once garbage is gone. */

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('run with --expose-gc');
  collect();
}

/**
 * `heapUsed` and `external` (bytes) after `rounds` full GCs, each followed by a turn of the event
 * loop (finalizers and weak callbacks run between them).
 */
export async function settle(rounds = 4): Promise<{ heap: number; external: number }> {
  for (let i = 0; i < rounds; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, external: usage.external };
}
