import type { RequestHandler } from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  bearerAuth,
  createIdentityProvider,
  requireClaim,
  requireGroup,
  requireRole,
  type IdentityProvider,
} from 'express-cern-sso';
import { demoClient, startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { recordingLogger } from '../helpers/app.js';
import { call, decode, startApp, type Answer, type RunningApp } from './helpers.js';
import { PROTOTYPE_NAMES as OBJECT_PROTOTYPE_NAMES } from '../helpers/prototype-names.js';

/**
 * Names that resolve on any plain object through its prototype: a lookup keyed by a token's
 * header, claim names or values must never find them.
 */
const PROTOTYPE_NAMES = [...OBJECT_PROTOTYPE_NAMES, 'prototype'];
const AUDIENCE = 'my-api';

let emulator: CernSsoEmulator;
let identity: IdentityProvider;
let api: RunningApp;
const logger = recordingLogger();

const ok: RequestHandler = (req, res) => {
  res.json({ login: req.sso.user?.login });
};

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  identity = createIdentityProvider({
    clientId: demoClient.clientId,
    clientSecret: demoClient.clientSecret,
    issuer: emulator.issuer,
    authzApiUrl: emulator.authzApiUrl,
    logger,
  });
  api = await startApp((app) => {
    // No JWKS cool-down: forged kids are answered at once.
    app.use(bearerAuth({ issuer: emulator.issuer, audience: AUDIENCE, identity, logger, jwksCooldownMs: 0 }));
    app.get('/me', ok);
    app.get('/group', requireGroup('it-dep'), ok);
    app.get('/role', requireRole('admin'), ok);
    app.get('/client-role', requireClaim('resource_access.demo-app.roles', 'admin'), ok);
    for (const name of PROTOTYPE_NAMES) {
      app.get(`/claim/${name}`, requireClaim(name, 'x'), ok);
      app.get(`/nested/${name}`, requireClaim(`resource_access.${name}.roles`, 'admin'), ok);
    }
  });
});
afterAll(async () => {
  await api.close();
  await identity.close();
  await emulator.close();
});
beforeEach(() => {
  emulator.requests.reset();
});

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A JWT with this header and payload and a signature that verifies nothing. */
function forged(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  return `${b64(header)}.${b64(payload)}.${Buffer.from('not a signature').toString('base64url')}`;
}

function payload(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { iss: emulator.issuer, sub: 'jdoe', aud: AUDIENCE, exp: now + 300, iat: now, ...extra };
}

/** `{ [name]: value }` with `name` as an own key, even `__proto__` (as JSON.parse builds it). */
const own = (name: string, value: unknown): Record<string, unknown> =>
  JSON.parse(`{${JSON.stringify(name)}:${JSON.stringify(value)}}`) as Record<string, unknown>;

function expectRefused(answer: Answer, status: 401 | 403, description: RegExp, what: string): void {
  expect(answer.status, what).toBe(status);
  expect(answer.json.error, what).toBe(status === 401 ? 'invalid_token' : 'insufficient_scope');
  const challenge = answer.headers.get('www-authenticate') ?? '';
  expect(challenge, what).toMatch(status === 401 ? /^Bearer error="invalid_token"/ : /insufficient_scope/);
  expect(String(answer.json.error_description), what).toMatch(description);
}

describe('prototype names in tokens: 401/403 with a clear description, never a 500', () => {
  it('the typ claim (signed, or forged and unsigned)', async () => {
    for (const name of PROTOTYPE_NAMES) {
      const signed = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE, claims: { typ: name } });
      expectRefused(await call(`${api.url}/me`, { token: signed }), 401, /not an access token/, name);
      const unsigned = forged({ alg: 'RS256', typ: 'JWT' }, payload({ typ: name }));
      expectRefused(await call(`${api.url}/me`, { token: unsigned }), 401, /not an access token/, name);
    }
  });

  it('the header typ, kid and alg', async () => {
    for (const name of PROTOTYPE_NAMES) {
      const typed = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE, header: { typ: name } });
      expectRefused(await call(`${api.url}/me`, { token: typed }), 401, /header typ is not JWT/, name);
      const kid = forged({ alg: 'RS256', kid: name }, payload());
      expectRefused(await call(`${api.url}/me`, { token: kid }), 401, /unknown kid/, name);
      const alg = forged({ alg: name }, payload());
      expectRefused(await call(`${api.url}/me`, { token: alg }), 401, /algorithm is not accepted/, name);
    }
    for (const kid of [7, { __proto__: 'x' }, ['a'], null, true]) {
      const token = forged({ alg: 'RS256', kid }, payload());
      expectRefused(
        await call(`${api.url}/me`, { token }),
        401,
        /key id \(kid\) is not a string/,
        JSON.stringify(kid),
      );
    }
  });

  it('groups, cern_roles and resource_access keys named like prototype members', async () => {
    for (const name of PROTOTYPE_NAMES) {
      const token = await emulator.issueAccessToken('jdoe', {
        audience: AUDIENCE,
        claims: {
          groups: [name, 'other-group'],
          cern_roles: [name],
          resource_access: own(name, { roles: ['admin'] }),
        },
      });
      expect(decode(token).payload.resource_access, name).toHaveProperty([name]);
      expect((await call(`${api.url}/me`, { token })).status, name).toBe(200);
      expectRefused(await call(`${api.url}/group`, { token }), 403, /membership of "it-dep"/, name);
      expectRefused(await call(`${api.url}/role`, { token }), 403, /role "admin"/, name);
      expectRefused(await call(`${api.url}/client-role`, { token }), 403, /resource_access/, name);
      // A path through that key finds the token's own value, and only that.
      expect((await call(`${api.url}/nested/${name}`, { token })).status, name).toBe(200);
    }
    // The groups claim decided: no AuthZ call for any of them.
    expect(emulator.requests.count('/api/v1.0')).toBe(0);
  });

  it('a claim path naming a prototype member does not resolve without an own claim', async () => {
    const token = await emulator.issueAccessToken('jdoe', { audience: AUDIENCE });
    for (const name of PROTOTYPE_NAMES) {
      expectRefused(
        await call(`${api.url}/claim/${name}`, { token }),
        403,
        new RegExp(`claim "${name}"`),
        name,
      );
      expectRefused(await call(`${api.url}/nested/${name}`, { token }), 403, /resource_access/, name);
    }
  });

  it('a user named like a prototype member is just a user with no groups', async () => {
    for (const name of PROTOTYPE_NAMES) {
      const token = await emulator.issueAccessToken('jdoe', {
        audience: AUDIENCE,
        claims: { sub: name, cern_upn: name, preferred_username: name },
      });
      expect((await call(`${api.url}/me`, { token })).json.login, name).toBe(name);
      expectRefused(await call(`${api.url}/group`, { token }), 403, /membership of "it-dep"/, name);
    }
  });

  it('nothing above was a 500 or logged as an error', () => {
    expect(logger.error).not.toHaveBeenCalled();
  });
});
