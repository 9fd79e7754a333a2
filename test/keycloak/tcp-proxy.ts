/**
 * A TCP proxy on a loopback port that can stop listening (connections are refused, as when
 * Keycloak is down or its host unreachable) and listen again on the same port: the app reaches
 * Keycloak through it, the tests switch Keycloak "off" and "on" without restarting the JVM.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  /** The port the proxy listens on (kept across `refuse()`/`accept()`). */
  readonly port: number;
  /** Connections accepted so far (each one forwarded to the target). */
  readonly connections: number;
  /** Stops listening and cuts open connections: new connections get ECONNREFUSED. */
  refuse(): Promise<void>;
  /** Listens again on the same port. */
  accept(): Promise<void>;
  close(): Promise<void>;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/** Starts a listening proxy to `127.0.0.1:<targetPort>` on a free port. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let connections = 0;
  let server: Server | undefined;

  const newServer = (): Server =>
    createServer((incoming) => {
      connections += 1;
      const outgoing = connect(targetPort, '127.0.0.1');
      for (const socket of [incoming, outgoing]) {
        open.add(socket);
        socket.once('close', () => open.delete(socket));
        socket.on('error', () => {
          incoming.destroy();
          outgoing.destroy();
        });
      }
      incoming.pipe(outgoing).pipe(incoming);
    });

  async function refuse(): Promise<void> {
    const closing = server;
    server = undefined;
    if (!closing) return;
    const closed = new Promise((resolve) => closing.close(resolve));
    for (const socket of open) socket.destroy();
    await closed;
  }

  server = newServer();
  const port = await listen(server, 0);
  return {
    port,
    get connections() {
      return connections;
    },
    refuse,
    async accept() {
      if (server) return;
      const next = newServer();
      await listen(next, port);
      server = next;
    },
    close: refuse,
  };
}
