import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/** A tiny real HTTP forward proxy: absolute-form requests for http targets, CONNECT tunnels. */
export interface ForwardProxy {
  /** `http://127.0.0.1:<port>`, for `HTTP_PROXY`. */
  url: string;
  /** Requests (absolute-form) and tunnels (CONNECT) per target `host:port`. */
  counts: Map<string, number>;
  /** Every absolute-form request URL (http targets), in order. */
  requests: string[];
  /** All requests and tunnels to targets whose host:port is `target` (e.g. `127.0.0.1:4000`). */
  countFor(target: string): number;
  close(): Promise<void>;
}

/** Starts the proxy on 127.0.0.1. `refuseConnect`: answer every CONNECT with 403. */
export async function startForwardProxy(options: { refuseConnect?: boolean } = {}): Promise<ForwardProxy> {
  const counts = new Map<string, number>();
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const count = (target: string): void => {
    counts.set(target, (counts.get(target) ?? 0) + 1);
  };

  const server: Server = createServer((req: IncomingMessage, res) => {
    // Absolute-form: GET http://host:port/path HTTP/1.1
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('absolute-form request expected');
      return;
    }
    count(target.host);
    requests.push(target.href);
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: `${target.pathname}${target.search}`,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      res.writeHead(502).end('bad gateway');
    });
    req.pipe(upstream);
  });

  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? '';
    count(target);
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    if (options.refuseConnect === true) {
      client.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const [host = '', port = '443'] = target.split(/:(?=\d+$)/);
    const upstream = connect(Number(port), host.replace(/^\[|\]$/g, ''), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${String(port)}`,
    counts,
    requests,
    countFor: (target) => counts.get(target) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
