import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { isCi } from './ci.js';

/**
 * Real Redis for tests: a private `redis-server` per test file, on a unix socket in a temp
 * directory (no TCP port, no persistence), started daemonized as described in NOTES.md.
 */

export type TestRedisClient = ReturnType<typeof createClient>;

export interface TestRedis {
  /** Path of the unix socket. */
  socket: string;
  /**
   * A new node-redis client on the socket, connected, with a fast reconnect strategy and an
   * `error` listener (node-redis crashes the process without one). `errors` collects what the
   * listener saw. Closed by `stop()`.
   */
  client(): Promise<TestRedisClient & { errors: Error[] }>;
  /** Kills the server (the clients stay, reconnecting). Idempotent. */
  kill(): Promise<void>;
  /** Starts the server again on the same socket (after `kill()`). */
  restart(): Promise<void>;
  /** Closes every client, kills the server and removes the temp directory. */
  stop(): Promise<void>;
}

const INSTALL_HINT = 'apt-get install redis-server';

let availability: boolean | undefined;

/**
 * Whether `redis-server` can be run. When it cannot: in CI (`CI` set, see {@link isCi}) this
 * throws, so a missing server fails the build instead of silently skipping; locally it prints a loud
 * warning and returns `false` (use with `describe.skipIf(!redisAvailable())`).
 */
export function redisAvailable(): boolean {
  if (availability !== undefined) return availability;
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  availability = probe.status === 0;
  if (!availability) {
    if (isCi()) {
      throw new Error(`redis-server is required in CI: ${INSTALL_HINT}`);
    }
    const line = '!'.repeat(78);
    console.warn(
      `\n${line}\n!! redis-server not found: SKIPPING the Redis cache tests.\n` +
        `!! Install it to run them: ${INSTALL_HINT}\n${line}\n`,
    );
  }
  return availability;
}

/** Resolves once something answers PING on `socket`; rejects after `timeoutMs`. */
async function waitUntilAnswering(socket: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ping(socket)) return;
    if (Date.now() >= deadline)
      throw new Error(`redis-server did not answer on ${socket} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves once nothing accepts connections on `socket` any more. */
async function waitUntilGone(socket: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (await ping(socket)) {
    if (Date.now() >= deadline)
      throw new Error(`redis-server still answers on ${socket} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function waitUntilExited(pid: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return; // ESRCH: the process is gone
    }
    if (Date.now() >= deadline) throw new Error(`redis-server (pid ${pid}) still runs after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    if (!existsSync(socket)) {
      resolve(false);
      return;
    }
    const connection = connect(socket);
    let answer = '';
    let settled = false;
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      connection.destroy();
      resolve(ok);
    };
    connection.setTimeout(1000, () => {
      done(false);
    });
    connection.on('error', () => {
      done(false);
    });
    // A server shutting down may accept and then close without answering.
    connection.on('close', () => {
      done(false);
    });
    connection.on('connect', () => connection.write('PING\r\n'));
    connection.on('data', (chunk) => {
      answer += chunk.toString('utf8');
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
  });
}

/** Starts a private redis-server; see {@link TestRedis}. */
export async function startRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'ecs-redis-'));
  const socket = join(dir, 'redis.sock');
  const pidfile = join(dir, 'redis.pid');
  const clients = new Set<TestRedisClient>();
  let pid: number | undefined;

  // A daemonized server outlives a crashed test run: kill it when this process exits.
  const killOnExit = (): void => {
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', killOnExit);

  async function start(): Promise<void> {
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
    if (result.status !== 0) {
      throw new Error(`redis-server failed to start (${result.status}): ${result.stderr || result.stdout}`);
    }
    await waitUntilAnswering(socket);
    pid = Number(readFileSync(pidfile, 'utf8').trim());
  }

  async function kill(): Promise<void> {
    if (pid === undefined) return;
    const killed = pid;
    try {
      process.kill(killed, 'SIGTERM'); // no persistence configured: exits at once, removes the socket
    } catch {
      // already gone
    }
    pid = undefined;
    await waitUntilGone(socket);
    // The socket file goes first; connections already open are only gone with the process.
    await waitUntilExited(killed);
  }

  await start();

  return {
    socket,
    async client() {
      const errors: Error[] = [];
      const client = createClient({
        socket: {
          path: socket,
          tls: false,
          connectTimeout: 1000,
          reconnectStrategy: (retries: number) => Math.min(20 * 2 ** retries, 200),
        },
      });
      client.on('error', (error: Error) => errors.push(error));
      await client.connect();
      clients.add(client);
      return Object.assign(client, { errors });
    },
    kill,
    async restart() {
      await kill();
      await start();
    },
    async stop() {
      for (const client of clients) {
        try {
          client.destroy();
        } catch {
          // closed already
        }
      }
      clients.clear();
      await kill();
      process.removeListener('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
