import { fork, type ChildProcess } from 'node:child_process';
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';
import type { CpuProfile } from './profile.js';

/** Messages a bench child sends to the parent. */
export type ChildMessage =
  | { type: 'ready'; data: unknown }
  | { type: 'result'; data: unknown }
  | { type: 'error'; message: string }
  | { type: 'profile-started' }
  | { type: 'profile'; data: CpuProfile }
  | { type: 'cpu-usage'; data: NodeJS.CpuUsage };

/** Messages the parent sends to a bench child. */
export type ParentMessage =
  | { type: 'stop' }
  | { type: 'profile-start'; intervalUs: number }
  | { type: 'profile-stop' }
  | { type: 'cpu-usage' };

export interface ForkOptions {
  /** Extra Node flags (e.g. `--expose-gc`, `--cpu-prof`), added after `--import tsx`. */
  nodeFlags?: string[];
  /** The child must send its first message within this time. Default 30 s. */
  startTimeoutMs?: number;
  /** The child is killed after this long whatever happens. Default 3 min. */
  lifetimeMs?: number;
  env?: Record<string, string>;
}

/** A running child process started with {@link forkChild}. */
export interface BenchChild<T> {
  /** The payload of the child's first message (`ready` or `result`). */
  readonly data: T;
  readonly pid: number;
  /**
   * Runs `during` while the child's V8 CPU profiler samples every `intervalUs` (a `serveChild`
   * child only) and returns the profile along with `during`'s result.
   */
  profile<R>(during: () => Promise<R>, intervalUs?: number): Promise<{ profile: CpuProfile; result: R }>;
  /** The child's `process.cpuUsage()` (µs of CPU time, all threads; a `serveChild` child only). */
  cpuUsage(): Promise<NodeJS.CpuUsage>;
  /** Asks the child to stop, waits for it to exit (killed after 10 s). */
  stop(): Promise<void>;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Forks `script` (a TypeScript file, relative to `bench/`) under tsx, with IPC, and resolves once
 * it sent its first message. The child runs on its own event loop (its own core on a 2-core
 * machine), so the load generator in the parent never competes with it for one loop.
 */
export async function forkChild<T>(
  script: string,
  args: string[],
  options: ForkOptions = {},
): Promise<BenchChild<T>> {
  const path = fileURLToPath(new URL(`../${script}`, import.meta.url));
  const child = fork(path, args, {
    execArgv: ['--import', 'tsx', ...(options.nodeFlags ?? [])],
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pid = child.pid ?? -1;
  // Hard limit: a child never outlives the benchmark, whatever goes wrong.
  const lifetime = setTimeout(() => {
    child.kill('SIGKILL');
  }, options.lifetimeMs ?? 180_000);
  lifetime.unref();
  child.once('exit', () => {
    clearTimeout(lifetime);
  });

  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  let data: T;
  try {
    data = await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`${script} ${args.join(' ')}: no answer within ${startTimeoutMs} ms`));
      }, startTimeoutMs);
      child.once('message', (raw) => {
        clearTimeout(timer);
        const message = raw as ChildMessage;
        if (message.type === 'ready' || message.type === 'result') resolve(message.data as T);
        else if (message.type === 'error')
          reject(new Error(`${script} ${args.join(' ')}: ${message.message}`));
        else reject(new Error(`${script}: unexpected first message "${message.type}"`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${script} ${args.join(' ')} exited early (code ${code}, signal ${signal})`));
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }

  /** The next message of `type` from the child, within 30 s. */
  const reply = <M extends ChildMessage>(type: M['type']): Promise<M> =>
    new Promise<M>((resolve, reject) => {
      const onMessage = (raw: unknown): void => {
        const message = raw as ChildMessage;
        if (message.type !== type && message.type !== 'error') return;
        cleanup();
        if (message.type === 'error') reject(new Error(`${script}: ${message.message}`));
        else resolve(message as M);
      };
      const onExit = (): void => {
        cleanup();
        reject(new Error(`${script} exited while the parent waited for "${type}"`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${script}: no "${type}" within 30 s`));
      }, 30_000);
      const cleanup = (): void => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const send = (message: ParentMessage): void => {
    child.send(message);
  };

  return {
    data,
    pid,
    async profile<R>(during: () => Promise<R>, intervalUs = 250) {
      const started = reply('profile-started');
      send({ type: 'profile-start', intervalUs });
      await started;
      let outcome: { ok: true; value: R } | { ok: false; error: unknown };
      try {
        outcome = { ok: true, value: await during() };
      } catch (error) {
        outcome = { ok: false, error };
      }
      const stopped = reply<{ type: 'profile'; data: CpuProfile }>('profile');
      send({ type: 'profile-stop' });
      const profile = (await stopped).data;
      if (!outcome.ok) throw outcome.error;
      return { profile, result: outcome.value };
    },
    async cpuUsage() {
      const answer = reply<{ type: 'cpu-usage'; data: NodeJS.CpuUsage }>('cpu-usage');
      send({ type: 'cpu-usage' });
      return (await answer).data;
    },
    async stop() {
      if (child.connected) child.send({ type: 'stop' } satisfies ParentMessage);
      await waitForExit(child, 10_000);
    },
  };
}

/** Child side: sends the first message and exits when told to stop or when the parent goes away. */
export function serveChild(
  start: () => Promise<{ data: unknown; close?: () => Promise<void> }>,
  lifetimeMs = 180_000,
): void {
  const send = (message: ChildMessage): void => {
    process.send?.(message);
  };
  // Never outlive the parent, nor the benchmark.
  setTimeout(() => process.exit(2), lifetimeMs).unref();
  process.once('disconnect', () => process.exit());
  let profiler: Session | undefined;
  const fail = (error: unknown): void => {
    send({ type: 'error', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  };
  start().then(
    ({ data, close }) => {
      send({ type: 'ready', data });
      process.on('message', (message: ParentMessage) => {
        if (message.type === 'profile-start') {
          profiler = new Session();
          profiler.connect();
          const session = profiler;
          session
            .post('Profiler.enable')
            .then(() => session.post('Profiler.setSamplingInterval', { interval: message.intervalUs }))
            .then(() => session.post('Profiler.start'))
            .then(() => {
              send({ type: 'profile-started' });
            }, fail);
        } else if (message.type === 'profile-stop') {
          const session = profiler;
          profiler = undefined;
          if (!session) {
            fail(new Error('profile-stop without profile-start'));
            return;
          }
          session.post('Profiler.stop').then(({ profile }) => {
            session.disconnect();
            send({ type: 'profile', data: profile as unknown as CpuProfile });
          }, fail);
        } else if (message.type === 'cpu-usage') {
          send({ type: 'cpu-usage', data: process.cpuUsage() });
        } else {
          const done = (): void => {
            process.exit(0);
          };
          (close ? close() : Promise.resolve()).then(done, done);
        }
      });
    },
    (error: unknown) => {
      send({
        type: 'error',
        message: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
      process.exitCode = 1;
      process.disconnect();
    },
  );
}

/** Child side, for one-shot measurements: sends the result and exits. */
export function reportFromChild(measure: () => Promise<unknown>): void {
  setTimeout(() => process.exit(2), 120_000).unref();
  measure().then(
    (data) => {
      process.send?.({ type: 'result', data } satisfies ChildMessage, () => {
        process.disconnect();
      });
    },
    (error: unknown) => {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      process.send?.({ type: 'error', message } satisfies ChildMessage, () => {
        process.disconnect();
      });
      process.exitCode = 1;
    },
  );
}
