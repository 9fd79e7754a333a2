import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type Express } from 'express';
import session from 'express-session';
import {
  cernSso,
  requireAuth,
  requireGroup,
  requireRole,
  type CernSso,
  type CernSsoOptions,
} from 'express-cern-sso';
import type { CernSsoEmulator } from 'express-cern-sso/testing';
import { vi, type Mock } from 'vitest';
import { logLine } from './log-lines.js';

type LogMethod = (...args: unknown[]) => void;

export interface RecordingLogger {
  debug: Mock<LogMethod>;
  info: Mock<LogMethod>;
  warn: Mock<LogMethod>;
  error: Mock<LogMethod>;
  /** Every logged line, joined, to assert that no secret was ever logged. */
  text(): string;
  /** The lines logged at `level`, in order, each as one line of text (see `logLine`). */
  lines(level: 'debug' | 'info' | 'warn' | 'error'): string[];
}

export function recordingLogger(): RecordingLogger {
  const lines: string[] = [];
  const byLevel = new Map<string, string[]>();
  const record =
    (level: string): LogMethod =>
    (...args) => {
      const line = logLine(args);
      lines.push(line);
      byLevel.set(level, [...(byLevel.get(level) ?? []), line]);
    };
  return {
    debug: vi.fn(record('debug')),
    info: vi.fn(record('info')),
    warn: vi.fn(record('warn')),
    error: vi.fn(record('error')),
    text: () => lines.join('\n'),
    lines: (level) => [...(byLevel.get(level) ?? [])],
  };
}

export interface TestApp {
  app: Express;
  sso: CernSso;
  baseUrl: string;
  logger: RecordingLogger;
  close(): Promise<void>;
}

/**
 * An app on `localhost` (the emulator is on 127.0.0.1, so their cookies stay apart) with the
 * routes the tests need, registered at the emulator as client `clientId`.
 */
export async function startTestApp(
  emulator: CernSsoEmulator,
  options: {
    sso?: Partial<CernSsoOptions>;
    clientId?: string;
    withSession?: boolean;
    /** The express-session store (default: a MemoryStore of its own). */
    sessionStore?: session.Store;
    /** Registers routes of the test itself (after the common ones, before the error handler). */
    routes?: (app: Express) => void;
  } = {},
): Promise<TestApp> {
  const app = express();
  const clientId = options.clientId ?? 'test-app';
  if (options.withSession !== false) {
    app.use(
      session({
        name: 'app.sid',
        secret: 'test-secret',
        resave: false,
        saveUninitialized: false,
        cookie: { httpOnly: true, sameSite: 'lax' },
        ...(options.sessionStore ? { store: options.sessionStore } : {}),
      }),
    );
  }
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => {
      resolve(s);
    });
  });
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://localhost:${port}`;
  emulator.registerClient({
    clientId,
    clientSecret: `${clientId}-secret`,
    redirectUris: [`${baseUrl}/oidc/callback`],
    postLogoutRedirectUris: [`${baseUrl}/*`],
    roles: { jdoe: ['user'], admin1: ['admin', 'user'] },
  });
  const logger = recordingLogger();
  const sso = cernSso({
    clientId,
    clientSecret: `${clientId}-secret`,
    baseUrl,
    issuer: emulator.issuer,
    authzApiUrl: emulator.authzApiUrl,
    logger,
    ...options.sso,
  });
  app.use(sso);
  app.get('/', (req, res) => {
    res.send(req.sso.isAuthenticated() ? `home of ${req.sso.user?.login ?? '?'}` : 'home (anonymous)');
  });
  app.get('/profile', requireAuth(), (req, res) => {
    res.send(`profile of ${req.sso.user?.displayName ?? '?'}`);
  });
  app.get('/api/me', requireAuth(), (req, res) => {
    res.json({ user: req.sso.user, authenticated: req.sso.isAuthenticated() });
  });
  app.get('/api/token-info', requireAuth(), async (req, res) => {
    const token = await req.sso.getAccessToken();
    // Tests compare tokens through a digest only: a real app never echoes tokens.
    const { createHash } = await import('node:crypto');
    res.json({ digest: createHash('sha256').update(token).digest('hex') });
  });
  app.get('/api/exchange', requireAuth(), async (req, res) => {
    const audience = typeof req.query.audience === 'string' ? req.query.audience : '';
    const token = await req.sso.exchangeToken(audience);
    const [, payload = ''] = token.split('.');
    res.json(JSON.parse(Buffer.from(payload, 'base64url').toString()));
  });
  app.get('/admin', requireRole('admin'), (_req, res) => {
    res.send('admin area');
  });
  app.get('/it-admins', requireGroup('IT-DEP-ADMINS'), (_req, res) => {
    res.send('it admins area');
  });
  options.routes?.(app);
  app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const status = (error as { status?: number }).status ?? 500;
    const headers = (error as { headers?: Record<string, string> }).headers ?? {};
    res
      .set(headers)
      .status(status)
      .json({
        code: (error as { code?: string }).code ?? 'ERR',
        error_description: (error as Error).message,
      });
  });
  return {
    app,
    sso,
    baseUrl,
    logger,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await sso.close();
    },
  };
}
