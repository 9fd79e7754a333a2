import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoClient, startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { createApp } from './app.js';

let sso: CernSsoEmulator;
let server: Server;
let baseUrl: string;

beforeAll(async () => {
  sso = await startCernSsoEmulator(); // on 127.0.0.1, a free port
  // Listen first (port 0: a free one), then build the app for that URL. The app uses `localhost`,
  // the emulator `127.0.0.1`: cookies are per host, so theirs stay apart.
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://localhost:${(server.address() as AddressInfo).port}`;
  sso.registerClient({
    clientId: 'my-app',
    clientSecret: 'my-app-secret',
    redirectUris: [`${baseUrl}/oidc/callback`],
  });
  const app = createApp({
    clientId: 'my-app',
    clientSecret: 'my-app-secret',
    baseUrl,
    issuer: sso.issuer,
    authzApiUrl: sso.authzApiUrl,
  });
  server.on('request', app);
});
afterAll(async () => {
  server.close();
  await sso.close();
});

describe('my app', () => {
  it('shows the signed-in user', async () => {
    const { cookie } = await sso.login({ baseUrl, login: 'jdoe' });
    const res = await request(baseUrl).get('/me').set('Cookie', cookie).expect(200);
    expect(res.body).toMatchObject({ login: 'jdoe', displayName: 'John Doe' });
    await request(baseUrl).get('/me').expect(401); // anonymous API client
  });

  it('lets e-group members in, and no one else', async () => {
    const admin = await sso.login({ baseUrl, login: 'admin1' }); // in it-dep-admins
    await request(baseUrl).get('/admin').set('Cookie', admin.cookie).expect(200);
    const user = await sso.login({ baseUrl, login: 'jdoe' }); // in it-dep, not it-dep-admins
    const res = await request(baseUrl).get('/admin').set('Cookie', user.cookie).expect(403);
    expect(res.body.code).toBe('ERR_FORBIDDEN');
  });

  it('accepts a bearer token for the API', async () => {
    const token = await sso.issueAccessToken('jdoe', { audience: 'my-api' });
    const res = await request(baseUrl).get('/api/whoami').auth(token, { type: 'bearer' }).expect(200);
    expect(res.body).toEqual({ login: 'jdoe' });
    const other = await sso.issueAccessToken('jdoe', { audience: 'another-api' });
    await request(baseUrl).get('/api/whoami').auth(other, { type: 'bearer' }).expect(401);
  });

  it('answers 503 with Retry-After while the Authorization Service is down', async () => {
    const { cookie } = await sso.login({ baseUrl, login: 'mmartin' }); // groups not cached yet
    sso.faults.set('/api/v1.0', { status: 503, retryAfterSec: 30 }); // the AuthZ API
    try {
      const res = await request(baseUrl).get('/my-groups').set('Cookie', cookie).expect(503);
      expect(res.headers['retry-after']).toBe('30');
      expect(res.body.code).toBe('ERR_UPSTREAM_UNAVAILABLE');
    } finally {
      sso.faults.clear();
    }
    const res = await request(baseUrl).get('/my-groups').set('Cookie', cookie).expect(200);
    expect(res.body.groups).toContain('cern-staff');
  });

  it('runs the command-line tool against the emulator', async () => {
    // `npx express-cern-sso groups jdoe --json`; npm puts the bin on the PATH of `npm test`.
    const { stdout } = await promisify(execFile)('express-cern-sso', ['groups', 'jdoe', '--json'], {
      env: {
        ...process.env,
        CERN_SSO_ISSUER: sso.issuer,
        CERN_SSO_AUTHZ_API_URL: sso.authzApiUrl,
        CERN_SSO_CLIENT_ID: demoClient.clientId, // a client allowed to use the AuthZ API
        CERN_SSO_CLIENT_SECRET: demoClient.clientSecret,
      },
    });
    expect(JSON.parse(stdout)).toMatchObject({ login: 'jdoe', groups: expect.arrayContaining(['it-dep']) });
  });
});
