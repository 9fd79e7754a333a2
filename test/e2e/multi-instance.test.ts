/**
 * Two app instances as separate processes on one real Redis, with the emulator: the library
 * behaves as one app across instances (sessions, cache, single flight, back-channel logout,
 * token refresh), and degrades without crashing when Redis goes away.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoClient, type CernSsoEmulator } from 'express-cern-sso/testing';
import { startInstance, type InstanceProcess } from '../../examples/multi-instance/processes.js';
import { TEST_CLOCK_ENV, TEST_CLOCK_PATH } from '../../examples/multi-instance/test-clock.js';
import { LOGOUT_RECHECK_MS } from '../../src/auth/logout-markers.js';
import { TestBrowser } from '../helpers/browser.js';
import { redisAvailable, type TestRedis } from '../helpers/redis.js';
import { startTwoInstances, type TwoInstances } from '../helpers/two-instances.js';

const JSON_ACCEPT = { accept: 'application/json' };
const MEMBERSHIP = '/api/v1.0/IdentityMembership';
const API_TOKEN = '/auth/realms/cern/api-access/token';
const TOKEN = '/auth/realms/cern/protocol/openid-connect/token';
const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

describe.skipIf(!redisAvailable())('many instances on one Redis', () => {
  let redis: TestRedis;
  let emulator: CernSsoEmulator;
  let a: InstanceProcess;
  let b: InstanceProcess;
  let proxy: TwoInstances['proxy'];
  let env: Record<string, string>;
  /** How far the instances' clocks were moved (an instance restarted is moved again). */
  let clockOffsetMs = 0;
  let instances: TwoInstances;

  beforeAll(async () => {
    // 34 s access tokens are "expiring" 4 s after issue by the instances' clocks (30 s refresh
    // margin): refresh tests. A refreshed token then stays fresh for 4 s, long enough for the other
    // instance to see it on a busy machine (with 1 s, a slow instance found it expiring again and
    // refreshed twice).
    instances = await startTwoInstances({
      accessTokenTtlSec: 34,
      client: demoClient,
      registration: (url) => ({
        postLogoutRedirectUris: [`${url}/*`],
        backchannelLogoutUri: `${url}/oidc/backchannel-logout`,
      }),
      sessionSecrets: 'new-secret,old-secret',
    });
    ({ redis, emulator, proxy, env, a, b } = instances);
  }, 60_000);

  afterAll(async () => {
    await instances.stop();
  });

  async function signedIn(login: string): Promise<TestBrowser> {
    emulator.setAutoLogin(login);
    const browser = new TestBrowser();
    // Through the proxy, like a real browser behind the router.
    const page = await browser.navigate(`${proxy.url}/login?returnTo=%2Fapi%2Fwhoami`, {
      headers: JSON_ACCEPT,
    });
    expect(page.status).toBe(200);
    return browser;
  }

  /** Moves the clock of `instance` forward by `ms` (its test-clock route). */
  async function advanceClock(instance: InstanceProcess, ms: number): Promise<void> {
    const response = await fetch(`${instance.url}${TEST_CLOCK_PATH}?ms=${String(ms)}`, { method: 'POST' });
    expect(response.status).toBe(200);
  }

  /** Moves both instances' clocks: they stay together (a login may start on one and end on the other). */
  async function advanceClocks(ms: number): Promise<void> {
    await Promise.all([advanceClock(a, ms), advanceClock(b, ms)]);
    clockOffsetMs += ms;
  }

  const getJson = async (browser: TestBrowser, url: string) => {
    const response = await browser.request(url, { headers: JSON_ACCEPT });
    return {
      status: response.status,
      headers: response.headers,
      body: (await response.json()) as Record<string, unknown>,
    };
  };

  it('a session made on one instance works on the other', async () => {
    const browser = await signedIn('jdoe');
    const onA = await getJson(browser, `${a.url}/api/whoami`);
    const onB = await getJson(browser, `${b.url}/api/whoami`);
    expect(onA).toMatchObject({ status: 200, body: { instance: 'a', user: { login: 'jdoe' } } });
    expect(onB).toMatchObject({ status: 200, body: { instance: 'b', user: { login: 'jdoe' } } });
  });

  it('100 concurrent cold group checks over both instances: one AuthZ request, one API token', async () => {
    const browser = await signedIn('admin1');
    emulator.requests.reset();
    const responses = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        browser.request(`${i % 2 ? a.url : b.url}/api/admins`, { headers: JSON_ACCEPT }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 100 }, () => 200));
    expect(emulator.requests.count(MEMBERSHIP)).toBe(1);
    expect(emulator.requests.count(API_TOKEN)).toBe(1);
  });

  it('two requests of one session on two instances when the token expires: one refresh', async () => {
    const browser = await signedIn('mmartin');
    // Past the refresh margin on both instances, without waiting.
    await advanceClocks(4100);
    emulator.requests.reset();
    const [onA, onB] = await Promise.all([
      getJson(browser, `${a.url}/api/token-digest`),
      getJson(browser, `${b.url}/api/token-digest`),
    ]);
    expect(onA.status).toBe(200);
    expect(onB.status).toBe(200);
    expect(emulator.requests.count(TOKEN, 'POST')).toBe(1);
    expect(onA.body.digest).toBe(onB.body.digest);
  });

  it('a logout at the IdP (back-channel, delivered to one instance) ends the session on both', async () => {
    const browser = await signedIn('lnguyen');
    expect((await getJson(browser, `${a.url}/api/whoami`)).status).toBe(200);
    await emulator.endSsoSessions('lnguyen');
    expect((await getJson(browser, `${a.url}/api/whoami`)).status).toBe(401);
    expect((await getJson(browser, `${b.url}/api/whoami`)).status).toBe(401);
  });

  it('a logout delivered to instance A is seen by instance B on the next request (markers in the session store)', async () => {
    const browser = await signedIn('guest-anna');
    // Both instances hold the sign-in in process before the logout.
    expect((await getJson(browser, `${a.url}/api/whoami`)).status).toBe(200);
    expect((await getJson(browser, `${b.url}/api/whoami`)).status).toBe(200);
    const ssoSession = emulator.sessions('guest-anna').at(-1);
    const logoutToken = await emulator.issueAccessToken('guest-anna', {
      clientId: demoClient.clientId,
      audience: demoClient.clientId,
      expiresInSec: 120,
      claims: { typ: 'Logout', sid: ssoSession?.sid, events: { [EVENT]: {} }, scope: undefined },
      header: { typ: 'logout+jwt' },
    });
    const delivered = await fetch(`${a.url}/oidc/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: logoutToken }).toString(),
    });
    expect(delivered.status).toBe(200);
    // A, which recorded it, at once; B once its reused "not logged out" answer is older than
    // LOGOUT_RECHECK_MS by its clock.
    expect((await getJson(browser, `${a.url}/api/whoami`)).status).toBe(401);
    await advanceClocks(LOGOUT_RECHECK_MS + 1);
    // Nothing but the shared session store can tell B.
    expect((await getJson(browser, `${b.url}/api/whoami`)).status).toBe(401);
    // The same token delivered again (to B this time) is a replay.
    const replay = await fetch(`${b.url}/oidc/backchannel-logout`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: logoutToken }).toString(),
    });
    expect(replay.status).toBe(400);
    // The marker is a session-store key with a TTL; the library's cache holds no logout state.
    const client = await redis.client();
    const markers = await client.keys('myapp:sess:cern-sso.logout.sid.*');
    expect(markers.length).toBeGreaterThan(0);
    expect(await client.ttl(markers[0] ?? '')).toBeGreaterThan(29 * 24 * 3600);
    expect(await client.keys('myapp:cache:*logout*')).toEqual([]);
  });

  it('membership of another login: admins only (anonymous 401, non-admin 403)', async () => {
    expect((await fetch(`${a.url}/api/is-member/jdoe`, { headers: JSON_ACCEPT })).status).toBe(401);
    const user = await signedIn('mmartin');
    expect((await getJson(user, `${a.url}/api/is-member/jdoe`)).status).toBe(403);
    const admin = await signedIn('admin1');
    expect(await getJson(admin, `${b.url}/api/is-member/jdoe`)).toMatchObject({
      status: 200,
      body: { instance: 'b', member: true },
    });
    expect((await getJson(admin, `${a.url}/api/is-member/mmartin`)).body.member).toBe(false);
  });

  it('the service route for other services needs a bearer token', async () => {
    const anonymous = await fetch(`${a.url}/api/service/is-member/jdoe`, { headers: JSON_ACCEPT });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    const token = await emulator.issueAccessToken('svc-monitoring', { audience: demoClient.clientId });
    const response = await fetch(`${a.url}/api/service/is-member/jdoe`, {
      headers: { ...JSON_ACCEPT, authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ member: true });
  });

  it(`the clock-moving route exists only with ${TEST_CLOCK_ENV}=1 (404 without it)`, async () => {
    const { [TEST_CLOCK_ENV]: _flag, ...withoutFlag } = env;
    const plain = await startInstance('plain', withoutFlag);
    try {
      const advance = (url: string, ms: string) =>
        fetch(`${url}${TEST_CLOCK_PATH}?ms=${ms}`, { method: 'POST', headers: JSON_ACCEPT });
      expect((await advance(plain.url, '1000')).status).toBe(404);
      // With it: only a whole number of ms up to a day (a refused value moves nothing).
      for (const bad of ['-1', '1.5', 'x', '', '86400001', '1e3']) {
        expect((await advance(a.url, bad)).status).toBe(400);
      }
      const unmoved = await advance(a.url, '0');
      expect(unmoved.status).toBe(200);
      expect(await unmoved.json()).toEqual({ offsetMs: clockOffsetMs });
    } finally {
      await plain.stop();
    }
  }, 30_000);

  it('an instance restart keeps the session', async () => {
    const browser = await signedIn('jdoe');
    await a.restart();
    // A new process starts on real time: put it back with B (logins cross instances).
    await advanceClock(a, clockOffsetMs);
    expect(await getJson(browser, `${a.url}/api/whoami`)).toMatchObject({
      status: 200,
      body: { instance: 'a' },
    });
  }, 30_000);

  it('Redis stopped: requests still answer (degraded), and work again when it is back', async () => {
    const browser = await signedIn('jdoe');
    const serviceToken = await emulator.issueAccessToken('svc-monitoring', { audience: demoClient.clientId });
    await redis.kill();
    try {
      // Answered, not left hanging on the dead Redis (a hang fails the test by its timeout).
      const anonymous = await fetch(`${a.url}/`, { headers: JSON_ACCEPT });
      expect(anonymous.status).toBe(200);
      const withSession = await getJson(browser, `${b.url}/api/whoami`);
      expect(withSession.status).toBe(503);
      expect(withSession.headers.get('retry-after')).toBe('5');
      // No session needed: the identity provider answers from the AuthZ API (cache misses).
      emulator.requests.reset();
      const service = await fetch(`${b.url}/api/service/is-member/kmuller`, {
        headers: { ...JSON_ACCEPT, authorization: `Bearer ${serviceToken}` },
      });
      expect(service.status).toBe(200);
      expect(await service.json()).toMatchObject({ instance: 'b', member: false });
      expect(emulator.requests.count(MEMBERSHIP)).toBe(1);
    } finally {
      await redis.restart();
    }
    // Without persistence the sessions are gone, but the app works again: log in, check groups.
    // Wait until both instances reach Redis again (a completed login writes the session to it;
    // /login alone stores nothing).
    const storesAgain = async () =>
      (
        await Promise.all(
          [a.url, b.url].map(async (url) => {
            emulator.setAutoLogin('admin1');
            const page = await new TestBrowser().navigate(`${url}/login?returnTo=%2Fapi%2Fwhoami`, {
              headers: JSON_ACCEPT,
            });
            return page.status;
          }),
        )
      ).every((status) => status === 200);
    await expect.poll(storesAgain, { timeout: 10_000, interval: 100 }).toBe(true);
    const again = await signedIn('admin1');
    expect((await getJson(again, `${a.url}/api/admins`)).status).toBe(200);
    expect((await getJson(again, `${b.url}/api/admins`)).status).toBe(200);
  }, 30_000);
});
