import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import {
  TOKEN_PATH,
  authorize,
  claimsOf,
  codeFlow,
  codeRequest,
  fetchJwks,
  pkce,
  postForm,
} from './helpers.js';

let emu: CernSsoEmulator;
let realm: string;

beforeAll(async () => {
  emu = await startCernSsoEmulator({ autoLogin: 'jdoe' });
  realm = '/auth/realms/cern';
});
afterEach(() => {
  emu.faults.clear();
  emu.requests.reset();
});
afterAll(async () => {
  await emu.close();
});

const discovery = () => fetch(`${emu.issuer}/.well-known/openid-configuration`);

describe('request log', () => {
  it('counts requests by path prefix (segment-wise) and method', async () => {
    await discovery();
    await discovery();
    await postForm(emu, TOKEN_PATH, { grant_type: 'client_credentials' });
    await postForm(emu, `${TOKEN_PATH}/introspect`, { token: 'x' });
    expect(emu.requests.count(`${realm}/.well-known/openid-configuration`)).toBe(2);
    expect(emu.requests.count(`${realm}/protocol/openid-connect/token`)).toBe(2);
    expect(emu.requests.count(`${realm}/protocol/openid-connect/token`, 'post')).toBe(2);
    expect(emu.requests.count(`${realm}/protocol/openid-connect/token`, 'GET')).toBe(0);
    expect(emu.requests.count(`${realm}/protocol/openid-connect/tok`)).toBe(0);
    expect(emu.requests.count('/')).toBe(4);
    expect(emu.requests.log[0]).toMatchObject({
      method: 'GET',
      path: `${realm}/.well-known/openid-configuration`,
    });
    expect(emu.requests.log[0]?.at).toEqual(expect.any(Number));
    emu.requests.reset();
    expect(emu.requests.log).toHaveLength(0);
  });
});

describe('faults', () => {
  it('answers a status instead of the real response, for `times` requests', async () => {
    emu.faults.set(`${realm}/protocol/openid-connect/token`, { status: 503, times: 2 });
    for (let i = 0; i < 2; i++) {
      const failed = await postForm(emu, TOKEN_PATH, { grant_type: 'client_credentials' });
      expect(failed.status).toBe(503);
      expect(failed.body.error).toEqual(expect.any(String));
    }
    const ok = await postForm(emu, TOKEN_PATH, { grant_type: 'client_credentials' });
    expect(ok.status).toBe(200);
    // Faulted requests are counted too.
    expect(emu.requests.count(`${realm}/protocol/openid-connect/token`)).toBe(3);
  });

  it('applies to every path of the server, AuthZ API included, until cleared', async () => {
    emu.faults.set('/api/v1.0', { status: 500 });
    expect((await fetch(`${emu.url}/api/v1.0/Identity/jdoe`)).status).toBe(500);
    expect((await fetch(`${emu.url}/api/v1.0/Group`)).status).toBe(500);
    expect((await discovery()).status).toBe(200);
    emu.faults.clear('/api/v1.0');
    expect((await fetch(`${emu.url}/api/v1.0/Identity/jdoe`)).status).toBe(401);
  });

  it('the longest matching prefix wins', async () => {
    emu.faults.set(realm, { status: 502 });
    emu.faults.set(`${realm}/.well-known`, { status: 429 });
    expect((await discovery()).status).toBe(429);
    expect((await fetch(`${emu.issuer}/protocol/openid-connect/certs`)).status).toBe(502);
  });

  /** Lets sockets and the emulator run (setImmediate is real: only setTimeout is faked below). */
  async function untilArrived(path: string): Promise<void> {
    while (emu.requests.count(path) === 0) await new Promise((resolve) => setImmediate(resolve));
  }

  it('delays responses', async () => {
    // The emulator's delay is a timer of this process: fake timers drive it.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      emu.faults.set(`${realm}/.well-known`, { delayMs: 300, times: 1 });
      let answered = false;
      const response = discovery().then((answer) => {
        answered = true;
        return answer;
      });
      await untilArrived(`${realm}/.well-known`);
      await vi.advanceTimersByTimeAsync(299);
      expect(answered).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect((await response).status).toBe(200);
    } finally {
      vi.useRealTimers();
    }
  });

  it('hangs requests until the client gives up', async () => {
    emu.faults.set(`${realm}/.well-known`, { hang: true });
    const giveUp = new AbortController();
    let settled = false;
    const request = fetch(`${emu.issuer}/.well-known/openid-configuration`, { signal: giveUp.signal });
    request.then(
      () => (settled = true),
      () => (settled = true),
    );
    await untilArrived(`${realm}/.well-known`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled).toBe(false);
    giveUp.abort();
    await expect(request).rejects.toThrow(/abort/i);
  });

  it('omitIss and wrongIss change the authorization response iss, discovery issuer and token iss', async () => {
    const authPath = `${realm}/protocol/openid-connect/auth`;
    emu.faults.set(authPath, { omitIss: true, times: 1 });
    let response = await authorize(emu, codeRequest(pkce().challenge));
    let location = new URL(response.headers.get('location') ?? '');
    expect(location.searchParams.get('code')).toBeTruthy();
    expect(location.searchParams.has('iss')).toBe(false);

    emu.faults.set(authPath, { wrongIss: true, times: 1 });
    response = await authorize(emu, codeRequest(pkce().challenge));
    location = new URL(response.headers.get('location') ?? '');
    expect(location.searchParams.get('iss')).toBe(`${emu.url}/auth/realms/not-cern`);

    response = await authorize(emu, codeRequest(pkce().challenge));
    expect(new URL(response.headers.get('location') ?? '').searchParams.get('iss')).toBe(emu.issuer);

    emu.faults.set(`${realm}/.well-known`, { wrongIss: true, times: 1 });
    expect(((await (await discovery()).json()) as { issuer: string }).issuer).toBe(
      `${emu.url}/auth/realms/not-cern`,
    );

    emu.faults.set(`${realm}/protocol/openid-connect/token`, { omitIss: true, times: 1 });
    const { tokens } = await codeFlow(emu);
    expect(claimsOf(tokens.id_token).iss).toBeUndefined();
  });

  it('validates fault options', () => {
    expect(() => {
      emu.faults.set('/', { times: 0 });
    }).toThrow(/times/);
    expect(() => {
      emu.faults.set('/', { status: 99 });
    }).toThrow(/status/);
  });
});

describe('suspend and resume', () => {
  it('refuses connections while suspended, then serves on the same port with the same state', async () => {
    const jwksBefore = await fetchJwks(emu);
    const { tokens } = await codeFlow(emu);
    const port = new URL(emu.url).port;

    await emu.suspend();
    await emu.suspend(); // idempotent
    await expect(discovery()).rejects.toThrow();

    await emu.resume();
    await emu.resume(); // idempotent
    expect(new URL(emu.url).port).toBe(port);
    expect((await discovery()).status).toBe(200);
    const jwksAfter = await fetchJwks(emu);
    expect(jwksAfter).toEqual(jwksBefore);
    const refresh = await postForm(emu, TOKEN_PATH, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
    });
    expect(refresh.status).toBe(200);
  });

  it('drops hung requests when suspended', async () => {
    emu.faults.set(`${realm}/.well-known`, { hang: true });
    const pending = discovery();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await emu.suspend();
    await expect(pending).rejects.toThrow();
    emu.faults.clear();
    await emu.resume();
    expect((await discovery()).status).toBe(200);
  });

  it('cannot resume after close', async () => {
    const other = await startCernSsoEmulator();
    await other.close();
    await expect(other.resume()).rejects.toThrow(/closed/);
  });
});
