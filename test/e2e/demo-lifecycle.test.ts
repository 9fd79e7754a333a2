/**
 * The demo's use of the login lifecycle (issue 12): `onLogin` creates a local account at a
 * person's first sign-in and counts the later ones; the admin page wants a recent sign-in
 * (step-up); every refusal is an audit event. Time moves with a fake `Date` (app and emulator).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CernSsoEvent } from 'express-cern-sso';
import { ADMIN_MAX_AGE_SEC } from '../../examples/basic/app.js';
import { startDemo, type Demo } from '../../examples/start-demo.js';

describe('the demo app: login lifecycle', () => {
  let demo: Demo;
  const events: CernSsoEvent[] = [];
  beforeAll(async () => {
    demo = await startDemo({
      port: 0,
      log: false,
      onEvent: (event) => {
        events.push(event);
      },
    });
  });
  afterAll(() => demo.close());
  afterEach(() => {
    vi.useRealTimers();
  });

  async function profile(cookie: string): Promise<string> {
    const response = await fetch(`${demo.url}/profile`, { headers: { cookie } });
    expect(response.status).toBe(200);
    return response.text();
  }

  it('onLogin creates a local account at the first sign-in and counts the next ones', async () => {
    const first = await demo.emulator.login({ baseUrl: demo.url, login: 'jdoe' });
    const page = await profile(first.cookie);
    const id = /id="account-id">#(\d+)</.exec(page)?.[1];
    expect(id).toBeDefined();
    expect(page).toContain('<span id="sign-ins">1</span>');

    const again = await demo.emulator.login({ baseUrl: demo.url, login: 'jdoe' });
    const second = await profile(again.cookie);
    expect(second).toContain(`id="account-id">#${id!}<`);
    expect(second).toContain('<span id="sign-ins">2</span>');

    const other = await profile((await demo.emulator.login({ baseUrl: demo.url, login: 'mmartin' })).cookie);
    expect(other).not.toContain(`id="account-id">#${id!}<`);
    expect(other).toContain('<span id="sign-ins">1</span>');
  });

  it('the admin page wants a sign-in of the last ADMIN_MAX_AGE_SEC: an older one is sent through the login again', async () => {
    const { cookie } = await demo.emulator.login({ baseUrl: demo.url, login: 'admin1' });
    const html = { cookie, accept: 'text/html' };
    expect((await fetch(`${demo.url}/admin`, { headers: html })).status).toBe(200);

    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + (ADMIN_MAX_AGE_SEC + 1) * 1000);
    const stale = await fetch(`${demo.url}/admin`, { headers: html, redirect: 'manual' });
    expect(stale.status).toBe(302);
    const login = new URL(stale.headers.get('location') ?? '', demo.url);
    expect(login.pathname).toBe('/login');
    expect(login.searchParams.get('max_age')).toBe(String(ADMIN_MAX_AGE_SEC));
    expect(login.searchParams.get('prompt')).toBe('login');
    expect(events.at(-1)).toMatchObject({ type: 'access_denied', login: 'admin1', path: '/admin' });

    // A new sign-in (the emulator authenticates anew) passes.
    const fresh = await demo.emulator.login({ baseUrl: demo.url, login: 'admin1' });
    expect(
      (await fetch(`${demo.url}/admin`, { headers: { cookie: fresh.cookie, accept: 'text/html' } })).status,
    ).toBe(200);
  });
});
