/**
 * The demo's use of the login lifecycle (issue 12): `onLogin` creates a local account at a
 * person's first sign-in and counts the later ones; the profile page shows it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type Demo } from '../../examples/start-demo.js';

describe('the demo app: login lifecycle', () => {
  let demo: Demo;
  beforeAll(async () => {
    demo = await startDemo({ port: 0, log: false });
  });
  afterAll(() => demo.close());

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
});
