/**
 * Child process of the `bearer` suite: one Express 5 app answering `GET /api/data` with
 * `{"sub":"…"}`, in one of four variants. The parent runs the emulator (the token issuer) and
 * passes its issuer URL and the audience in the environment; every side is loaded with the same
 * `Authorization: Bearer <token>` header.
 *
 * - `bare`: no authentication; the route answers the expected `sub` (`BENCH_SUB`) as a constant.
 * - `bearer`: `bearerAuth({ issuer, audience })` of the compiled library, defaults (verified-token
 *   cache on); the route answers `req.sso.claims.sub`.
 * - `bearer-nocache`: the same with `verifiedTokenCacheMax: 0` (every request verifies the JWT).
 * - `oauth2-jwt-bearer`: express-oauth2-jwt-bearer's `auth({ issuerBaseURL, audience })`, its
 *   recommended configuration; the route answers `req.auth.payload.sub`.
 *
 * Sends {@link BearerAppReady} once ready; stops when the parent says so.
 */
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import { auth } from 'express-oauth2-jwt-bearer';
import { closeServer, listen, loadLibrary, required } from '../lib/app-child.js';
import { serveChild } from '../lib/child.js';

export type BearerVariant = 'bare' | 'noop' | 'bearer' | 'bearer-nocache' | 'oauth2-jwt-bearer';
const VARIANTS: readonly string[] = [
  'bare',
  'noop',
  'bearer',
  'bearer-nocache',
  'oauth2-jwt-bearer',
] satisfies BearerVariant[];

export interface BearerAppReady {
  /** The measured route, on 127.0.0.1. */
  url: string;
}

const ROUTE = '/api/data';

async function start(variant: BearerVariant): Promise<{ data: BearerAppReady; close: () => Promise<void> }> {
  const issuer = required('BENCH_ISSUER');
  const audience = required('BENCH_AUDIENCE');
  const app = express();
  let guard: RequestHandler[] = [];
  let handler: RequestHandler;
  if (variant === 'bare') {
    const sub = required('BENCH_SUB');
    handler = (_req, res) => {
      res.json({ sub });
    };
  } else if (variant === 'noop') {
    // The floor of any authentication middleware: one more handler that sets req.sso (what the
    // route reads) and calls next(), nothing checked.
    const sub = required('BENCH_SUB');
    const context = { claims: { sub } };
    guard = [
      (req, _res, next) => {
        (req as unknown as { sso: unknown }).sso = context;
        next();
      },
    ];
    handler = (req, res) => {
      res.json({ sub: (req as unknown as { sso: typeof context }).sso.claims.sub });
    };
  } else if (variant === 'oauth2-jwt-bearer') {
    guard = [auth({ issuerBaseURL: issuer, audience })];
    handler = (req, res) => {
      res.json({ sub: req.auth?.payload.sub ?? null });
    };
  } else {
    const { bearerAuth } = await loadLibrary();
    guard = [
      bearerAuth({
        issuer,
        audience,
        ...(variant === 'bearer-nocache' ? { verifiedTokenCacheMax: 0 } : {}),
      }),
    ];
    handler = (req, res) => {
      res.json({ sub: req.sso.claims?.sub ?? null });
    };
  }
  app.get(ROUTE, ...guard, handler);
  const server = await listen(app);
  const { port } = server.address() as AddressInfo;
  return {
    data: { url: `http://127.0.0.1:${port}${ROUTE}` },
    close: () => closeServer(server),
  };
}

const variant = process.argv[2] ?? '';
if (!VARIANTS.includes(variant)) throw new Error(`usage: bearer-app.ts ${VARIANTS.join('|')}`);
serveChild(() => start(variant as BearerVariant));
