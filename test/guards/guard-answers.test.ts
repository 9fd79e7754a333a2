import type { RequestHandler } from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { kUserGroupSet, kUserGroupSetSync, type GroupSetSource } from '../../src/auth/group-names.js';
import { bearerAuth, requireClaim, requireGroup, requireRole, type IdentityProvider } from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { TestBrowser } from '../helpers/browser.js';
import { recordingLogger, startTestApp, type TestApp } from '../helpers/app.js';
import { call, startApp, type RunningApp } from '../bearer/helpers.js';

const AUDIENCE = 'my-api';
/** RFC 6750 §3: the only characters a challenge's quoted-strings may hold. */
const CHALLENGE =
  /^Bearer error="insufficient_scope", error_description="[\x20\x21\x23-\x5b\x5d-\x7e]{1,400}"$/;

let emulator: CernSsoEmulator;
let api: RunningApp;
let failingApi: RunningApp;
let web: TestApp;
const logger = recordingLogger();
const failingLogger = recordingLogger();

const ok: RequestHandler = (_req, res) => {
  res.json({ ok: true });
};

/** Non-ASCII requirements, including characters beyond U+00FF that Node refuses in headers. */
function nonAsciiRoutes(app: { get(path: string, ...handlers: RequestHandler[]): unknown }, prefix: string) {
  app.get(`${prefix}/claim`, requireClaim('name', 'José'), ok);
  app.get(`${prefix}/group`, requireGroup('équipe-组'), ok);
  app.get(`${prefix}/groups`, requireGroup(['équipe-组', 'a"b\\c'], { match: 'all' }), ok);
  app.get(`${prefix}/role`, requireRole('rôle-角色'), ok);
}

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  api = await startApp((app) => {
    app.use(bearerAuth({ issuer: emulator.issuer, audience: AUDIENCE, logger }));
    nonAsciiRoutes(app, '');
    app.get('/auth-only', requireClaim('sub', 'nobody'), ok);
    app.get('/admin', requireRole('admin'), ok);
    app.get('/it-admins', requireGroup('it-dep-admins'), ok);
  });
  const failing: Pick<IdentityProvider, 'getUserGroups' | 'exchangeToken'> = {
    getUserGroups: () => Promise.reject(new Error('boom: a bug in an identity provider')),
    exchangeToken: () => Promise.reject(new Error('not used')),
  };
  failingApi = await startApp((app) => {
    app.use(
      bearerAuth({ issuer: emulator.issuer, audience: AUDIENCE, logger: failingLogger, identity: failing }),
    );
    app.get('/it-admins', requireGroup('it-dep-admins'), ok);
  });
  web = await startTestApp(emulator);
  nonAsciiRoutes(web.app, '/web');
});
afterAll(async () => {
  await Promise.all([api.close(), failingApi.close(), web.close()]);
  await emulator.close();
});
beforeEach(() => {
  emulator.requests.reset();
});

const token = (login: string, claims?: Record<string, unknown>) =>
  emulator.issueAccessToken(login, { audience: AUDIENCE, ...(claims ? { claims } : {}) });

describe('non-ASCII requirements on bearer routes', () => {
  it('403 with an RFC 6750 challenge of printable ASCII only; the JSON body keeps the text', async () => {
    const jdoe = await token('jdoe', { groups: ['it-dep'] });
    for (const path of ['/claim', '/group', '/groups', '/role']) {
      const answer = await call(`${api.url}${path}`, { token: jdoe });
      expect(answer.status, path).toBe(403);
      expect(answer.headers.get('www-authenticate'), path).toMatch(CHALLENGE);
      expect(answer.json.code).toBe('ERR_FORBIDDEN');
    }
    const claim = await call(`${api.url}/claim`, { token: jdoe });
    expect(claim.json.error_description).toContain('"José"');
    const group = await call(`${api.url}/group`, { token: jdoe });
    expect(group.json.error_description).toContain('"équipe-组"');
  });

  it('a holder of the non-ASCII group/claim passes', async () => {
    const member = await token('jdoe', { groups: ['ÉQUIPE-组'], name: 'José' });
    expect((await call(`${api.url}/group`, { token: member })).status).toBe(200);
    expect((await call(`${api.url}/claim`, { token: member })).status).toBe(200);
  });
});

describe('non-ASCII requirements on session routes', () => {
  it('403 with the requirement in the JSON or HTML body, no challenge header', async () => {
    emulator.setAutoLogin('jdoe');
    const browser = new TestBrowser();
    expect((await browser.navigate(`${web.baseUrl}/login`)).body).toBe('home of jdoe');
    for (const path of ['/web/claim', '/web/group', '/web/groups', '/web/role']) {
      const answer = await browser.request(`${web.baseUrl}${path}`, {
        headers: { accept: 'application/json' },
      });
      expect(answer.status, path).toBe(403);
      expect(answer.headers.get('www-authenticate'), path).toBeNull();
      expect(((await answer.json()) as { code: string }).code).toBe('ERR_FORBIDDEN');
    }
    const page = await browser.request(`${web.baseUrl}/web/group`);
    expect(page.status).toBe(403);
    expect(await page.text()).toContain('équipe-组');
  });
});

describe('guard failures are answered and logged with the configured logger', () => {
  it('an identity provider failing with a bug: 500 ERR_INTERNAL, logged by bearerAuth’s logger, not the console', async () => {
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const answer = await call(`${failingApi.url}/it-admins`, { token: await token('jdoe') });
      expect(answer.status).toBe(500);
      expect(answer.json).toEqual({
        error: 'server_error',
        error_description: 'Internal error in the sign-in integration',
        code: 'ERR_INTERNAL',
      });
      expect(answer.text).not.toContain('boom');
      expect(failingLogger.lines('error')).toEqual([
        expect.stringMatching(
          /^guard failed: .*boom.*\(code=ERR_INTERNAL guard=requireGroup\(\) method=GET path=\/it-admins\)$/,
        ),
      ]);
      expect(consoleError).not.toHaveBeenCalled();
    } finally {
      consoleError.mockRestore();
    }
  });

  it("on session routes: logged by cernSso()'s logger", async () => {
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const groups = vi
      .spyOn(web.sso.identity, 'getUserGroups')
      .mockRejectedValue(new Error('boom in session'));
    // Guards use the provider's memoised group sets, not getUserGroups(): fail that path too.
    const sets = vi
      .spyOn(web.sso.identity as unknown as GroupSetSource, kUserGroupSet)
      .mockRejectedValue(new Error('boom in session'));
    const warm = vi
      .spyOn(web.sso.identity as unknown as GroupSetSource, kUserGroupSetSync)
      .mockReturnValue(undefined);
    try {
      emulator.setAutoLogin('jdoe');
      const browser = new TestBrowser();
      await browser.navigate(`${web.baseUrl}/login`);
      const answer = await browser.request(`${web.baseUrl}/web/group`, {
        headers: { accept: 'application/json' },
      });
      expect(answer.status).toBe(500);
      expect(await answer.json()).toMatchObject({ code: 'ERR_INTERNAL' });
      expect(web.logger.lines('error')).toEqual([
        expect.stringMatching(
          /^guard failed: .*boom in session.*\(code=ERR_INTERNAL guard=requireGroup\(\) /,
        ),
      ]);
      expect(consoleError).not.toHaveBeenCalled();
    } finally {
      groups.mockRestore();
      sets.mockRestore();
      warm.mockRestore();
      consoleError.mockRestore();
    }
  });
});

describe('a valid bearer token that names no user', () => {
  it('requireRole and requireGroup answer 403 insufficient_scope, not 401', async () => {
    const userless = await token('jdoe', { sub: undefined, cern_upn: undefined, groups: ['it-dep-admins'] });
    for (const path of ['/admin', '/it-admins']) {
      const answer = await call(`${api.url}${path}`, { token: userless });
      expect(answer.status, path).toBe(403);
      expect(answer.json.code).toBe('ERR_FORBIDDEN');
      expect(answer.json.error_description).toMatch(/names no user/);
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer error="insufficient_scope"/);
    }
    // Claim guards need no user: decided on the claims as usual.
    expect((await call(`${api.url}/auth-only`, { token: userless })).status).toBe(403);
    expect(emulator.requests.count('/api/v1.0')).toBe(0);
  });
});
