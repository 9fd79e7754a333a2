import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type Request, type Response } from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ApiTokenSource } from '../../src/identity/api-token.js';
import {
  createAuthzClient,
  pathSegment,
  type AuthzClient,
  type AuthzPage,
} from '../../src/identity/authz-client.js';
import { sanitizeUpstreamMessage } from '../../src/untrusted-text.js';
import { silentLogger } from '../../src/logger.js';
import { rejectionOf } from './helpers.js';

/**
 * Edge cases of pagination and error mapping that the emulator (a well-behaved API) never
 * produces: a small express server answering whatever each test sets in `handler`.
 */
let server: Server;
let origin: string;
let handler: (req: Request, res: Response) => void;
let seen: { url: string; authorization: string | undefined }[];

beforeAll(async () => {
  const app = express();
  app.use((req, res) => {
    seen.push({ url: req.originalUrl, authorization: req.headers.authorization });
    handler(req, res);
  });
  server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
});
beforeEach(() => {
  seen = [];
});

function fakeTokens(): ApiTokenSource & { invalidated: string[] } {
  let n = 1;
  const invalidated: string[] = [];
  return {
    invalidated,
    get: () => Promise.resolve(`token-${n}`),
    invalidate: (token) => {
      invalidated.push(token ?? '');
      n++;
      return Promise.resolve();
    },
  };
}

function client(tokens = fakeTokens()): AuthzClient {
  return createAuthzClient({ baseUrl: origin, tokens, timeoutMs: 500, logger: silentLogger });
}

async function allPages(api: AuthzClient, path: string): Promise<AuthzPage[]> {
  const pages: AuthzPage[] = [];
  for await (const page of api.pages(path, [['filter', 'upn:contains:a']], { pageSize: 2 })) pages.push(page);
  return pages;
}

describe('AuthZ client pagination', () => {
  it('falls back to pagination.token, re-sending the original query', async () => {
    handler = (req, res) => {
      const token = typeof req.query.token === 'string' ? req.query.token : '0';
      const offset = Number(token);
      const rows = [1, 2, 3, 4, 5].slice(offset, offset + 2).map((i) => ({ upn: `u${i}` }));
      res.json({ data: rows, pagination: { total: 5, token: offset + 2 < 5 ? String(offset + 2) : null } });
    };
    const api = client();
    const pages = await allPages(api, '/Identity');
    expect(pages.map((page) => page.rows.length)).toEqual([2, 2, 1]);
    expect(pages.map((page) => page.last)).toEqual([false, false, true]);
    expect(seen.map((entry) => entry.url)).toEqual([
      '/api/v1.0/Identity?filter=upn%3Acontains%3Aa&limit=2',
      '/api/v1.0/Identity?filter=upn%3Acontains%3Aa&limit=2&token=2',
      '/api/v1.0/Identity?filter=upn%3Acontains%3Aa&limit=2&token=4',
    ]);
    api.close();
  });

  it('stops when a token comes with an empty page or once total rows arrived', async () => {
    handler = (_req, res) => {
      res.json({ data: [{ upn: 'a' }, { upn: 'b' }], pagination: { total: 2, token: 'more' } });
    };
    const api = client();
    expect(await allPages(api, '/Identity')).toHaveLength(1);
    api.close();
  });

  it('follows a relative or same-origin absolute next link', async () => {
    handler = (req, res) => {
      if (req.query.page === undefined)
        res.json({ data: [{}], pagination: { next: '/api/v1.0/Identity?page=2' } });
      else if (req.query.page === '2')
        res.json({ data: [{}], pagination: { next: `${origin}/api/v1.0/Identity?page=3` } });
      else res.json({ data: [{}], pagination: { next: null } });
    };
    const api = client();
    expect(await allPages(api, '/Identity')).toHaveLength(3);
    api.close();
  });

  it('refuses a next link that leaves the API origin (the token would go with it)', async () => {
    for (const next of ['http://evil.example/steal', '//evil.example/steal', 'https://127.0.0.1:1/x']) {
      handler = (_req, res) => {
        res.json({ data: [{}], pagination: { next } });
      };
      const api = client();
      const error = await rejectionOf(allPages(api, '/Identity'));
      expect(error).toMatchObject({ status: 503, code: 'ERR_UPSTREAM_UNAVAILABLE' });
      expect(String((error as Error).cause)).toMatch(/leaves the API origin/);
      api.close();
    }
    expect(seen).toHaveLength(3);
  });

  it('detects a pagination loop', async () => {
    handler = (_req, res) => {
      res.json({ data: [{}], pagination: { next: '/api/v1.0/Identity?page=1' } });
    };
    const api = client();
    await expect(allPages(api, '/Identity')).rejects.toMatchObject({ status: 503 });
    expect(seen.length).toBeLessThanOrEqual(3);
    api.close();
  });

  it('404 on the first page = nothing; 404 on a later page is an error', async () => {
    handler = (req, res) => {
      if (req.query.page === '2') res.status(404).json({ message: 'gone' });
      else if (req.path.endsWith('/first-missing')) res.status(404).json({ message: 'No such group' });
      else res.json({ data: [{}], pagination: { next: '/api/v1.0/Identity?page=2' } });
    };
    const api = client();
    expect(await allPages(api, '/Group/first-missing')).toEqual([]);
    await expect(allPages(api, '/Identity')).rejects.toMatchObject({ status: 400 });
    api.close();
  });
});

describe('AuthZ client errors', () => {
  it('maps statuses: 5xx/429/3xx -> 503 (with upstream Retry-After), 403 -> ERR_CONFIG, 400 -> ERR_BAD_REQUEST', async () => {
    const api = client();
    const cases: [number, Record<string, string>, object][] = [
      [500, {}, { status: 503, code: 'ERR_UPSTREAM_UNAVAILABLE' }],
      [502, {}, { status: 503, code: 'ERR_UPSTREAM_UNAVAILABLE' }],
      [429, { 'Retry-After': '17' }, { status: 503, headers: { 'Retry-After': '17' } }],
      [302, { Location: 'http://evil.example/' }, { status: 503 }],
      [403, {}, { status: 500, code: 'ERR_CONFIG' }],
      [400, {}, { status: 400, code: 'ERR_BAD_REQUEST' }],
    ];
    for (const [status, headers, expected] of cases) {
      handler = (_req, res) => {
        res
          .status(status)
          .set(headers)
          .json({ message: `nope ${status}` });
      };
      expect(await rejectionOf(api.getData('/Identity/x'))).toMatchObject(expected);
    }
    api.close();
  });

  it('includes the API explanation in 4xx messages, without token-like strings', async () => {
    handler = (_req, res) => {
      res
        .status(400)
        .json({ message: 'Bad filter near eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2ln' });
    };
    const api = client();
    const error = await rejectionOf(api.getData('/Identity/x'));
    expect((error as Error).message).toMatch(/Bad filter near \[redacted\]/);
    api.close();
  });

  it('a 2xx body that is not the documented JSON is an outage', async () => {
    handler = (_req, res) => {
      res.status(200).type('html').send('<html>proxy login</html>');
    };
    const api = client();
    await expect(api.getData('/Identity/x')).rejects.toMatchObject({ status: 503 });
    await expect(allPages(api, '/Identity')).rejects.toMatchObject({ status: 503 });
    api.close();
  });

  it('401 invalidates the rejected token and retries once with a new one', async () => {
    handler = (req, res) => {
      if (req.headers.authorization === 'Bearer token-1') res.status(401).json({ message: 'expired' });
      else res.json({ data: { upn: 'x' } });
    };
    const tokens = fakeTokens();
    const api = client(tokens);
    expect(await api.getData('/Identity/x')).toEqual({ upn: 'x' });
    expect(tokens.invalidated).toEqual(['token-1']);
    expect(seen.map((entry) => entry.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);
    api.close();
  });

  it('the cause of an error never carries the Authorization header', async () => {
    handler = () => {
      /* hang */
    };
    const api = client();
    const error = await rejectionOf(api.getData('/Identity/x'));
    expect(error).toMatchObject({ status: 503 });
    const cause = (error as Error).cause as Record<string, unknown>;
    expect(JSON.stringify(cause, Object.getOwnPropertyNames(cause))).not.toContain('token-1');
    expect(cause).not.toHaveProperty('config');
    api.close();
  });

  it('pathSegment encodes `/` and other reserved characters', () => {
    expect(pathSegment('edugain.example.org/srossi')).toBe('edugain.example.org%2Fsrossi');
    expect(pathSegment('a?b#c')).toBe('a%3Fb%23c');
  });
});

describe('sanitizeUpstreamMessage', () => {
  it('redacts JWTs and random-looking opaque tokens, keeps names', () => {
    expect(sanitizeUpstreamMessage('bad eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc end')).toBe(
      'bad [redacted] end',
    );
    expect(sanitizeUpstreamMessage('token 8fK2mQ9xLp3VbN7cR1tY6wZ0aS4dF5gH here')).toBe(
      'token [redacted] here',
    );
    expect(sanitizeUpstreamMessage('group it-service-vo-atlas-production-admins')).toBe(
      'group it-service-vo-atlas-production-admins',
    );
    expect(sanitizeUpstreamMessage('x'.repeat(300))).toHaveLength(200);
    expect(sanitizeUpstreamMessage(undefined)).toBe('');
  });
});
