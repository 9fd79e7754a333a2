import session from 'express-session';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { cernSso, loginDenied, type CernSsoError, type OnLogin, type OnLoginArgs } from 'express-cern-sso';
import { TestBrowser } from '../helpers/browser.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { loginSteps, sealedName } from '../helpers/login-steps.js';

declare module 'express-session' {
  interface SessionData {
    localUserId?: number;
    visited?: boolean;
  }
}

const JSON_ACCEPT = { accept: 'application/json' };

/** Every entry of a MemoryStore (sessions and sign-in records), by id. */
function storeEntries(store: session.MemoryStore): Promise<Record<string, Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    store.all((error, all) => {
      if (error) reject(error as Error);
      else resolve((all ?? {}) as unknown as Record<string, Record<string, unknown>>);
    });
  });
}

const recordCount = async (store: session.MemoryStore): Promise<number> =>
  Object.values(await storeEntries(store)).filter((value) => value.cernSsoAuth !== undefined).length;

let emulator: CernSsoEmulator;
let app: TestApp;
let store: session.MemoryStore;
/** The onLogin of the app under test: each test sets its own. */
let hook: OnLogin = () => undefined;

const steps = loginSteps(
  () => emulator,
  () => app.baseUrl,
);

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  store = new session.MemoryStore();
  app = await startTestApp(emulator, {
    clientId: 'on-login-app',
    sessionStore: store,
    sso: { onLogin: (args) => hook(args) },
    routes: (express) => {
      // A session before the login, to compare its id with the one after.
      express.get('/visit', (req, res) => {
        req.session.visited = true;
        res.json({ sid: req.sessionID });
      });
      express.get('/app-data', (req, res) => {
        res.json({ sid: req.sessionID, localUserId: req.session.localUserId ?? null });
      });
    },
  });
});
afterAll(async () => {
  await app.close();
  await emulator.close();
});
beforeEach(() => {
  hook = () => undefined;
  emulator.setAutoLogin(false);
});

/** Starts a login in `browser` and gets the emulator's redirect back for `login` (not followed). */
async function callbackFor(browser: TestBrowser, login = 'jdoe', returnTo = '/app-data'): Promise<URL> {
  const authorize = await steps.startLogin(browser, app.baseUrl, returnTo);
  return steps.authorizeAs(login, authorize);
}

async function appData(browser: TestBrowser): Promise<{ sid: string; localUserId: number | null }> {
  const response = await browser.request(`${app.baseUrl}/app-data`, { headers: JSON_ACCEPT });
  return (await response.json()) as { sid: string; localUserId: number | null };
}

/**
 * A login that `onLogin` refused or failed left nothing: the store holds what it held before the
 * callback (no record, no session), and the browser is anonymous.
 */
async function expectNobodySignedIn(
  browser: TestBrowser,
  before: Record<string, Record<string, unknown>>,
): Promise<void> {
  expect(await storeEntries(store)).toEqual(before);
  expect(await steps.whoAmI(browser)).toBeUndefined();
  expect((await appData(browser)).localUserId).toBeNull();
}

describe('onLogin: the app admits the user', () => {
  it('is called once with the user and claims, after the session id changed and before anything is stored', async () => {
    const seen: { args: OnLoginArgs; sid: string; records: number }[] = [];
    hook = async (args) => {
      seen.push({ args, sid: args.req.sessionID, records: await recordCount(store) });
      args.req.session.localUserId = 42;
    };
    const browser = new TestBrowser();
    const before = (await (
      await browser.request(`${app.baseUrl}/visit`, { headers: JSON_ACCEPT })
    ).json()) as {
      sid: string;
    };
    const recordsBefore = await recordCount(store);
    const callback = await callbackFor(browser);
    const landed = await browser.request(callback.href);
    expect(landed.status).toBe(302);
    expect(landed.headers.get('location')).toBe('/app-data');

    expect(seen).toHaveLength(1);
    const [call] = seen;
    expect(call?.sid).not.toBe(before.sid); // regenerated before the hook
    expect(call?.records).toBe(recordsBefore); // nothing of the sign-in stored yet
    expect(call?.args.user).toMatchObject({ login: 'jdoe', firstName: 'John', roles: ['user'] });
    expect(call?.args.claims).toMatchObject({ sub: 'jdoe', iss: emulator.issuer, aud: 'on-login-app' });
    expect(Object.isFrozen(call?.args.claims)).toBe(true);

    // The data the hook stored is in the signed-in session, from the next request on.
    const data = await appData(browser);
    expect(data).toEqual({ sid: call?.sid, localUserId: 42 });
    const me = await browser.request(`${app.baseUrl}/api/me`, { headers: JSON_ACCEPT });
    expect(((await me.json()) as { user: unknown }).user).toEqual(
      JSON.parse(JSON.stringify(call?.args.user)),
    );
    expect(await recordCount(store)).toBe(recordsBefore + 1);
  });

  it('awaits an async onLogin before answering the callback', async () => {
    let entered!: () => void;
    const hookEntered = new Promise<void>((resolve) => (entered = resolve));
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    hook = async ({ req }) => {
      entered();
      await finished;
      req.session.localUserId = 7;
    };
    const browser = new TestBrowser();
    const callback = await callbackFor(browser);
    let answered = false;
    const response = browser.request(callback.href).then((result) => {
      answered = true;
      return result;
    });
    await hookEntered;
    // The callback is still waiting for the hook (a few event-loop turns for the answer to arrive).
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(answered).toBe(false);
    finish();
    expect((await response).status).toBe(302);
    expect((await appData(browser)).localUserId).toBe(7);
  });
});

describe('onLogin: loginDenied refuses the sign-in', () => {
  const message = 'Your <script>alert(1)</script> account is not registered for "Indico" & co.';

  it('answers a 403 page showing the message, escaped, and nobody is signed in', async () => {
    hook = ({ req }) => {
      req.session.localUserId = 13; // stored before refusing: must not survive
      throw loginDenied(message);
    };
    const before = await storeEntries(store);
    const browser = new TestBrowser();
    const authorize = await steps.startLogin(browser, app.baseUrl, '/app-data');
    const callback = await steps.authorizeAs('jdoe', authorize);
    const page = await browser.request(callback.href);
    expect(page.status).toBe(403);
    const html = await page.text();
    expect(html).toContain('<title>Access denied</title>');
    expect(html).toContain(
      'Your &#60;script&#62;alert(1)&#60;/script&#62; account is not registered for &#34;Indico&#34; &#38; co.',
    );
    expect(html).not.toContain('<script>');
    // The login cookies are cleared, no session cookie is set.
    const cookies = page.headers.getSetCookie();
    expect(cookies.some((c) => c.startsWith(`${sealedName(authorize)}=;`))).toBe(true);
    expect(cookies.some((c) => c.startsWith('app.sid='))).toBe(false);
    await expectNobodySignedIn(browser, before);
  });

  it('answers JSON clients with access_denied and the message', async () => {
    hook = () => Promise.reject(loginDenied('Only members of the experiment may sign in.'));
    const warningsBefore = app.logger.lines('warn').length;
    const browser = new TestBrowser();
    const callback = await callbackFor(browser);
    const response = await browser.request(callback.href, { headers: JSON_ACCEPT });
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({
      error: 'access_denied',
      error_description: 'Only members of the experiment may sign in.',
      code: 'ERR_LOGIN_DENIED',
    });
    // A refusal is the app's decision, not a fault: one warning, no error.
    const warned = app.logger.lines('warn').slice(warningsBefore);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(
      /sign-in rejected.*Only members of the experiment may sign in\..*ERR_LOGIN_DENIED/,
    );
  });

  it('shows the French page with the message marked as English', async () => {
    hook = () => {
      throw loginDenied('Not for you.');
    };
    const browser = new TestBrowser();
    const callback = await callbackFor(browser);
    const page = await browser.request(callback.href, {
      headers: { accept: 'text/html', 'accept-language': 'fr-CH, fr;q=0.9' },
    });
    expect(page.status).toBe(403);
    const html = await page.text();
    expect(html).toContain('<title>Accès refusé</title>');
    expect(html).toContain('<p class="detail" lang="en">Not for you.</p>');
  });

  it('refuses guests and eduGAIN users (no CERN person id) and admits CERN staff', async () => {
    hook = ({ user }) => {
      if (user.personId === undefined)
        throw loginDenied('Guest and eduGAIN accounts cannot use this application.');
    };
    const guest = emulator.users.find((u) => u.personId === undefined && u.login.includes('/'));
    expect(guest, 'seed has an eduGAIN user').toBeDefined();
    const before = await storeEntries(store);
    const refused = new TestBrowser();
    const page = await refused.request((await callbackFor(refused, guest!.login)).href, {
      headers: JSON_ACCEPT,
    });
    expect(page.status).toBe(403);
    expect(((await page.json()) as { error_description: string }).error_description).toBe(
      'Guest and eduGAIN accounts cannot use this application.',
    );
    await expectNobodySignedIn(refused, before);

    const staff = new TestBrowser();
    expect((await staff.request((await callbackFor(staff, 'jdoe')).href)).status).toBe(302);
    expect(await steps.whoAmI(staff)).toBe('jdoe');
  });

  it('a refused re-login leaves the browser signed out, not signed in as before', async () => {
    const browser = new TestBrowser();
    expect((await browser.request((await callbackFor(browser)).href)).status).toBe(302);
    expect(await steps.whoAmI(browser)).toBe('jdoe');
    hook = () => {
      throw loginDenied('Your access was withdrawn.');
    };
    const again = await browser.request((await callbackFor(browser)).href);
    expect(again.status).toBe(403);
    expect(await steps.whoAmI(browser)).toBeUndefined();
  });
});

describe('onLogin: anything else thrown', () => {
  it('answers 500 "The sign-in could not be completed.", logs the error, and nobody is signed in', async () => {
    hook = ({ req }) => {
      req.session.localUserId = 99;
      throw new TypeError('cannot read properties of undefined (reading "id") at provisionUser');
    };
    const before = await storeEntries(store);
    const errorsBefore = app.logger.lines('error').length;
    const browser = new TestBrowser();
    const callback = await callbackFor(browser);
    const page = await browser.request(callback.href);
    expect(page.status).toBe(500);
    const html = await page.text();
    expect(html).toContain('The sign-in could not be completed.');
    expect(html).not.toMatch(/provisionUser|TypeError|reading|at \S+ \(/);
    const logged = app.logger.lines('error').slice(errorsBefore);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/sign-in callback failed/);
    expect(logged[0]).toMatch(/TypeError/);
    expect(logged[0]).toMatch(/provisionUser/);
    expect(logged[0]).toMatch(/onLogin threw or rejected/);
    expect(logged[0]).toMatch(/ERR_LOGIN_FAILED/);
    await expectNobodySignedIn(browser, before);
  });

  it('answers JSON clients with server_error, also for a rejection with a non-error', async () => {
    hook = () => Promise.reject(new Error('database password=hunter2 refused'));
    const browser = new TestBrowser();
    const response = await browser.request((await callbackFor(browser)).href, { headers: JSON_ACCEPT });
    expect(response.status).toBe(500);
    const body = await response.text();
    expect(JSON.parse(body)).toEqual({
      error: 'server_error',
      error_description: 'The sign-in could not be completed.',
      code: 'ERR_LOGIN_FAILED',
    });
    expect(body).not.toContain('hunter2');

    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what a careless app does
    hook = () => Promise.reject('just a string');
    const other = new TestBrowser();
    const second = await other.request((await callbackFor(other)).href, { headers: JSON_ACCEPT });
    expect(second.status).toBe(500);
    expect(((await second.json()) as { code: string }).code).toBe('ERR_LOGIN_FAILED');
    expect(await steps.whoAmI(other)).toBeUndefined();
  });
});

describe('onLogin option', () => {
  it('must be a function: ERR_CONFIG naming onLogin', () => {
    let error: CernSsoError | undefined;
    try {
      cernSso({
        clientId: 'x',
        clientSecret: 'y',
        baseUrl: 'https://myapp.web.cern.ch',
        onLogin: 'provision' as never,
      });
    } catch (thrown) {
      error = thrown as CernSsoError;
    }
    expect(error?.code).toBe('ERR_CONFIG');
    expect(error?.details.some((problem) => problem.startsWith('onLogin:'))).toBe(true);
    expect(error?.details.join('\n')).toMatch(/must be a function/);
  });

  it('is optional: without it every validated user signs in', async () => {
    const plain = await startTestApp(emulator, { clientId: 'no-hook-app' });
    try {
      const browser = new TestBrowser();
      const authorize = await steps.startLogin(browser, plain.baseUrl, '/');
      const back = await browser.request((await steps.authorizeAs('jdoe', authorize)).href);
      expect(back.status).toBe(302);
      expect(await steps.whoAmI(browser, plain.baseUrl)).toBe('jdoe');
    } finally {
      await plain.close();
    }
  });
});
