/**
 * Process plumbing for the multi-instance example and its test: app instances as separate
 * processes, and a round-robin proxy standing in for the OKD router in front of them.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

const INSTANCE_SCRIPT = fileURLToPath(new URL('./instance.ts', import.meta.url));

export interface InstanceProcess {
  name: string;
  port: number;
  url: string;
  /** Stops the process (SIGTERM, then SIGKILL after 3 s). */
  stop(): Promise<void>;
  /** Stops and starts it again on the same port, with the same environment. */
  restart(): Promise<void>;
}

function spawnInstance(
  env: Record<string, string>,
  port: number,
): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = fork(INSTANCE_SCRIPT, [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...env, PORT: String(port) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`instance ${env.INSTANCE ?? ''} did not start within 20 s`));
    }, 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`instance ${env.INSTANCE ?? ''} exited with code ${String(code)}`));
    });
    child.on('message', (message: { ready?: boolean; port?: number }) => {
      if (message.ready && message.port) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({ child, port: message.port });
      }
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Starts `examples/multi-instance/instance.ts` as a child process; resolves once it listens. */
export async function startInstance(
  name: string,
  env: Record<string, string>,
  port = 0,
): Promise<InstanceProcess> {
  let current = await spawnInstance({ ...env, INSTANCE: name }, port);
  const instance: InstanceProcess = {
    name,
    port: current.port,
    url: `http://localhost:${current.port}`,
    stop: () => stopChild(current.child),
    restart: async () => {
      await stopChild(current.child);
      current = await spawnInstance({ ...env, INSTANCE: name }, instance.port);
    },
  };
  return instance;
}

/** A round-robin HTTP proxy on 127.0.0.1 (the OKD router's role); `port` 0 picks one. */
export async function startRoundRobinProxy(
  targets: () => number[],
  port = 0,
): Promise<{ url: string; server: Server }> {
  let next = 0;
  const server = createServer((req, res) => {
    const ports = targets();
    const target = ports[next++ % ports.length];
    const upstream = request(
      { host: '127.0.0.1', port: target, method: req.method, path: req.url, headers: req.headers },
      (response) => {
        res.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('instance unavailable');
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://localhost:${(server.address() as AddressInfo).port}`, server };
}
