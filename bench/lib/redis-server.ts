/**
 * A private redis-server for a benchmark: a unix socket in a temp directory (no TCP port, no
 * persistence), daemonized as NOTES.md describes. Stop it in `finally`; it is also killed when
 * this process exits. The socket path is a machine path: never write it into the results.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface BenchRedis {
  socket: string;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startRedisServer(): Promise<BenchRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-redis-'));
  const socket = join(dir, 'redis.sock');
  const pidfile = join(dir, 'redis.pid');
  const result = spawnSync(
    'redis-server',
    // prettier-ignore
    [
      '--port', '0',
      '--unixsocket', socket,
      '--unixsocketperm', '700',
      '--daemonize', 'yes',
      '--pidfile', pidfile,
      '--dir', dir,
      '--save', '',
      '--appendonly', 'no',
      '--loglevel', 'warning',
      '--logfile', join(dir, 'redis.log'),
    ],
    { encoding: 'utf8' },
  );
  if (result.error !== undefined || result.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `redis-server failed to start (is it installed? apt-get install redis-server): ${
        result.error?.message ?? result.stderr
      }`,
    );
  }
  let pid: number | undefined;
  for (let waited = 0; pid === undefined; waited += 20) {
    if (existsSync(socket) && existsSync(pidfile)) pid = Number(readFileSync(pidfile, 'utf8').trim());
    else if (waited > 5000) throw new Error('redis-server did not create its socket within 5 s');
    else await sleep(20);
  }
  const started = pid;
  const kill = (): void => {
    try {
      process.kill(started, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', kill);
  return {
    socket,
    async stop() {
      try {
        process.kill(started, 'SIGTERM');
      } catch {
        // already gone
      }
      for (let waited = 0; waited < 5000; waited += 20) {
        try {
          process.kill(started, 0);
        } catch {
          break; // ESRCH: exited
        }
        await sleep(20);
      }
      kill();
      process.removeListener('exit', kill);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
