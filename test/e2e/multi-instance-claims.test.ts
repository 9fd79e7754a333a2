/**
 * Claims refresh (`claimsTtlMs`) across two instance processes on one real Redis: when a
 * session's claims are due, concurrent requests on both instances make one refresh at Keycloak
 * (the emulator), and both see the role granted meanwhile. Tokens live an hour here, so only
 * the claims are due: this is the claims path of the cross-instance single flight, not the
 * access token's (tested in multi-instance.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CernSsoEmulator } from 'express-cern-sso/testing';
import { type InstanceProcess } from '../../examples/multi-instance/processes.js';
import { TEST_CLOCK_PATH } from '../../examples/multi-instance/test-clock.js';
import { TestBrowser } from '../helpers/browser.js';
import { redisAvailable } from '../helpers/redis.js';
import { startTwoInstances, type TwoInstances } from '../helpers/two-instances.js';

const JSON_ACCEPT = { accept: 'application/json' };
const TOKEN = '/auth/realms/cern/protocol/openid-connect/token';
const CLIENT = { clientId: 'claims-app', clientSecret: 'claims-app-secret' };
const CLAIMS_TTL_MS = 2000;

describe.skipIf(!redisAvailable())('claims refresh across instances on one Redis', () => {
  let emulator: CernSsoEmulator;
  let a: InstanceProcess;
  let b: InstanceProcess;
  let proxy: TwoInstances['proxy'];
  let instances: TwoInstances;

  beforeAll(async () => {
    instances = await startTwoInstances({
      accessTokenTtlSec: 3600,
      client: CLIENT,
      sessionSecrets: 'claims-secret',
      env: { CLAIMS_TTL_MS: String(CLAIMS_TTL_MS) },
    });
    ({ emulator, proxy, a, b } = instances);
  }, 60_000);

  afterAll(async () => {
    await instances.stop();
  });

  async function whoami(browser: TestBrowser, instance: InstanceProcess) {
    const response = await browser.request(`${instance.url}/api/whoami`, { headers: JSON_ACCEPT });
    return { status: response.status, body: (await response.json()) as { user?: { roles?: string[] } } };
  }

  it('claims due on both instances: one refresh, and both see the role granted meanwhile', async () => {
    emulator.setAutoLogin('jdoe');
    const browser = new TestBrowser();
    const page = await browser.navigate(`${proxy.url}/login?returnTo=%2Fapi%2Fwhoami`, {
      headers: JSON_ACCEPT,
    });
    expect(page.status).toBe(200);
    expect((await whoami(browser, a)).body.user?.roles).not.toContain('admin');

    emulator.setRoles(CLIENT.clientId, 'jdoe', ['user', 'admin']);
    // Not yet due: both instances use the claims of the login.
    expect((await whoami(browser, b)).body.user?.roles).not.toContain('admin');

    // Past claimsTtlMs on both instances' clocks, without waiting.
    await Promise.all(
      [a, b].map(async (instance) => {
        const moved = await fetch(`${instance.url}${TEST_CLOCK_PATH}?ms=${String(CLAIMS_TTL_MS + 100)}`, {
          method: 'POST',
        });
        expect(moved.status).toBe(200);
      }),
    );
    emulator.requests.reset();
    const [onA, onB] = await Promise.all([whoami(browser, a), whoami(browser, b)]);
    expect(onA.status).toBe(200);
    expect(onB.status).toBe(200);
    expect(onA.body.user?.roles).toContain('admin');
    expect(onB.body.user?.roles).toContain('admin');
    expect(emulator.requests.count(TOKEN, 'POST')).toBe(1);
  });
});
