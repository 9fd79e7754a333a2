import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  demoClient,
  seedUsers,
  startCernSsoEmulator,
  type CernSsoEmulator,
} from '../../src/testing/index.js';
import {
  authorize,
  basic,
  codeFlow,
  codeRequest,
  claimsOf,
  pkce,
  postForm,
  REDIRECT_URI,
  TOKEN_PATH,
} from './helpers.js';
import { PROTOTYPE_NAMES } from '../helpers/prototype-names.js';

let emu: CernSsoEmulator;
let apiToken: string;

async function api(path: string): Promise<{ status: number; body: { message?: string } }> {
  const response = await fetch(`${emu.authzApiUrl}/api/v1.0${path}`, {
    headers: { authorization: `Bearer ${apiToken}` },
  });
  return { status: response.status, body: (await response.json()) as { message?: string } };
}

beforeAll(async () => {
  // A user whose login is a prototype name, and a client with roles for other users only.
  emu = await startCernSsoEmulator({
    users: [...seedUsers, { login: 'constructor', firstName: 'Con', lastName: 'Structor' }],
    clients: [{ ...demoClient, roles: { jdoe: ['admin'] } }],
  });
  const { status, body } = await postForm(emu, '/api-access/token', {
    grant_type: 'client_credentials',
    audience: 'authorization-service-api',
  });
  expect(status).toBe(200);
  apiToken = body.access_token;
});
afterAll(async () => {
  await emu.close();
});

describe('emulator: prototype names in client input get ordinary answers, never a 500', () => {
  it('token endpoint: client_id and grant_type of prototype names', async () => {
    for (const name of PROTOTYPE_NAMES) {
      const byPost = await postForm(
        emu,
        TOKEN_PATH,
        { grant_type: 'client_credentials', client_id: name, client_secret: 'x' },
        {},
      );
      expect(byPost.status).toBe(401);
      expect(byPost.body.error).toBe('invalid_client');
      const byBasic = await postForm(
        emu,
        TOKEN_PATH,
        { grant_type: 'client_credentials' },
        basic(name, name),
      );
      expect(byBasic.status).toBe(401);
      const grant = await postForm(emu, TOKEN_PATH, { grant_type: name });
      expect(grant.status).toBe(400);
      expect(grant.body.error).toBe('unsupported_grant_type');
      const apiAccess = await postForm(emu, '/api-access/token', { grant_type: name, audience: name });
      expect(apiAccess.status).toBe(400);
    }
  });

  it('token endpoint: codes, refresh tokens and PKCE verifiers of prototype names', async () => {
    for (const name of PROTOTYPE_NAMES) {
      const code = await postForm(emu, TOKEN_PATH, {
        grant_type: 'authorization_code',
        code: name,
        redirect_uri: REDIRECT_URI,
        code_verifier: name,
      });
      expect(code.status).toBe(400);
      expect(code.body.error).toBe('invalid_grant');
      const refresh = await postForm(emu, TOKEN_PATH, { grant_type: 'refresh_token', refresh_token: name });
      expect(refresh.status).toBe(400);
      const introspect = await postForm(emu, `${TOKEN_PATH}/introspect`, { token: name });
      expect(introspect.status).toBe(200);
      expect(introspect.body).toEqual({ active: false });
      const revoke = await postForm(emu, '/protocol/openid-connect/revoke', { token: name });
      expect(revoke.status).toBe(200);
    }
  });

  it('authorization endpoint and login form: client_id, session_code and username of prototype names', async () => {
    const { challenge } = pkce();
    for (const name of PROTOTYPE_NAMES) {
      const unknownClient = await authorize(emu, codeRequest(challenge, { client_id: name }));
      expect(unknownClient.status).toBe(400);
      expect(await unknownClient.text()).toContain('Client not found.');
      const prompt = await authorize(emu, codeRequest(challenge, { prompt: name }));
      expect(prompt.status).toBe(302);
      expect(new URL(prompt.headers.get('location') ?? '').searchParams.get('error')).toBe('invalid_request');
      const form = await fetch(
        `${emu.issuer}/login-actions/authenticate?session_code=${encodeURIComponent(name)}`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ username: name, password: name }).toString(),
        },
      );
      expect(form.status).toBe(400);
      const logout = await fetch(
        `${emu.issuer}/protocol/openid-connect/logout?client_id=${name}&post_logout_redirect_uri=${encodeURIComponent(REDIRECT_URI)}`,
        { redirect: 'manual' },
      );
      expect(logout.status).toBe(400);
      const userinfo = await fetch(`${emu.issuer}/protocol/openid-connect/userinfo`, {
        headers: { authorization: `Bearer ${name}` },
      });
      expect(userinfo.status).toBe(401);
    }
  });

  it('a user named "constructor" signs in with no roles (roles are looked up as own entries)', async () => {
    emu.setAutoLogin('constructor');
    try {
      const { tokens } = await codeFlow(emu);
      const claims = claimsOf(tokens.access_token) as unknown as Record<string, unknown>;
      expect(claims.sub).toBe('constructor');
      expect(claims.cern_roles).toEqual([]);
    } finally {
      emu.setAutoLogin(false);
    }
  });
});

describe('emulated AuthZ API: prototype names in paths, filters and fields', () => {
  it('identities, memberships and groups named like prototype members are a 404', async () => {
    for (const name of PROTOTYPE_NAMES.filter((n) => n !== 'constructor')) {
      expect((await api(`/Identity/${name}`)).status).toBe(404);
      expect((await api(`/IdentityMembership/${name}/precomputed`)).status).toBe(404);
    }
    for (const name of PROTOTYPE_NAMES) {
      const members = await api(`/Group/${name}/memberidentities/precomputed`);
      expect(members.status).toBe(404);
      expect(members.body.message).toBe(`Group '${name}' not found`);
    }
    // The user literally named "constructor" is found, and has no groups (404 like the real API).
    expect((await api('/Identity/constructor')).status).toBe(200);
    expect((await api('/IdentityMembership/constructor/precomputed')).status).toBe(404);
  });

  it('filter fields and operators of prototype names are a 400 naming them; field= too', async () => {
    for (const name of PROTOTYPE_NAMES) {
      const field = await api(`/Identity?filter=${name}:eq:x`);
      expect(field.status).toBe(400);
      expect(field.body.message).toContain(`Unknown field '${name}'`);
      const op = await api(`/Identity?filter=upn:${name}:x`);
      expect(op.status).toBe(400);
      expect(op.body.message).toContain(`Unknown operator '${name}'`);
      const selection = await api(`/Group?field=${name}`);
      expect(selection.status).toBe(400);
      const value = await api(`/Identity?filter=upn:eq:${name}`);
      expect(value.status).toBe(200);
      expect(Array.isArray((value.body as { data?: unknown }).data)).toBe(true);
    }
  });
});
