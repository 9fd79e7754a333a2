import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUPS, USERS, startApi, type TestApi } from './helpers.js';

let api: TestApi;
beforeAll(async () => {
  api = await startApi({ users: () => USERS, groups: () => GROUPS });
});
afterAll(() => api.close());

describe('AuthZ API emulator: authentication', () => {
  it('answers 401 with a bare Bearer challenge when no token is sent', async () => {
    const res = await api.get('/api/v1.0/Identity/jdoe', null);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(res.body).toEqual({ message: expect.any(String) });
  });

  it('answers 401 invalid_token when the verifier rejects the token', async () => {
    const res = await api.get('/api/v1.0/Identity/jdoe', 'forged');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(res.body.message).toMatch(/invalid/i);
  });

  it.each(['wrong-aud', 'no-aud'])(
    'answers 401 when the token audience is not the API (%s)',
    async (token) => {
      const res = await api.get('/api/v1.0/Group', token);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
      expect(res.body.message).toContain('authorization-service-api');
    },
  );

  it('accepts an audience array that includes the API', async () => {
    const res = await api.get('/api/v1.0/Identity/jdoe', 'multi');
    expect(res.status).toBe(200);
  });

  it('rejects a malformed Authorization header', async () => {
    const res = await fetch(`${api.origin}/api/v1.0/Identity/jdoe`, {
      headers: { authorization: 'Basic abc' },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('Bearer');
  });

  it('requires a token even for unknown paths', async () => {
    expect((await api.get('/api/v1.0/Nope', null)).status).toBe(401);
  });
});

describe('AuthZ API emulator: generic errors', () => {
  it('answers JSON 404 for unknown paths', async () => {
    const res = await api.get('/api/v1.0/Nope');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: expect.any(String) });
  });

  it('answers 405 for other methods on known paths', async () => {
    const res = await fetch(`${api.origin}/api/v1.0/Identity`, {
      method: 'POST',
      headers: { authorization: 'Bearer good' },
    });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect(await res.json()).toEqual({ message: expect.any(String) });
  });

  it('answers a JSON 400 (no stack trace) for a malformed percent-encoding', async () => {
    const res = await api.get('/api/v1.0/Identity/%E0%A4%A');
    expect(res.status).toBe(400);
    expect(Object.keys(res.body as object)).toEqual(['message']);
    expect(res.body.message).not.toMatch(/at .*\.js/);
  });
});
