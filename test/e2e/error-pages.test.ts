/**
 * The HTML error pages, over real HTTP: the built-in pages in English and French (language from
 * the user's cern_preferred_language, else Accept-Language) and the `renderError` option, for
 * the routes of cernSso(), the guards and cernSsoErrorHandler().
 */
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CernSsoError,
  cernSso,
  cernSsoErrorHandler,
  requireGroup,
  type CernSsoOptions,
  type RenderError,
} from 'express-cern-sso';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { TestBrowser } from '../helpers/browser.js';
import { loginSteps } from '../helpers/login-steps.js';

const SCRIPT_GROUP = '<script>alert(1)</script>';

let emulator: CernSsoEmulator;
let app: TestApp;
/** What the app's renderError does in the current test (undefined: returns undefined). */
let render: RenderError | undefined;
const steps = loginSteps(
  () => emulator,
  () => app.baseUrl,
);

beforeAll(async () => {
  emulator = await startCernSsoEmulator();
  app = await startTestApp(emulator, {
    sso: { renderError: (error, req) => render?.(error, req) },
    routes: (express) => {
      express.get('/script-group', requireGroup(SCRIPT_GROUP), (_req, res) => {
        res.send('members only');
      });
      // An error of the app's own code, with the message it was given.
      express.get('/fail', (req) => {
        const message = typeof req.query.m === 'string' ? req.query.m : '';
        throw new CernSsoError('ERR_BAD_REQUEST', message, { status: 400 });
      });
      express.get('/outage', () => {
        throw new CernSsoError('ERR_UPSTREAM_UNAVAILABLE', 'The CERN login service is unavailable', {
          status: 503,
          headers: { 'Retry-After': '7' },
        });
      });
      express.use(cernSsoErrorHandler());
    },
  });
});

afterAll(async () => {
  await app.close();
  await emulator.close();
});

beforeEach(() => {
  render = undefined;
  app.logger.error.mockClear();
});

/** A browser signed in as `login`. */
async function signedIn(login: string): Promise<TestBrowser> {
  const browser = new TestBrowser();
  const callback = await steps.authorizeAs(login, await steps.startLogin(browser));
  expect((await browser.request(callback.href)).status).toBe(302);
  return browser;
}

interface Page {
  status: number;
  headers: Headers;
  body: string;
  /** The `lang` of the `<html>` element. */
  lang: string | undefined;
}

async function pageOf(path: string, headers: Record<string, string> = {}, browser = new TestBrowser()) {
  const response = await browser.request(`${app.baseUrl}${path}`, { headers });
  const body = await response.text();
  const page: Page = {
    status: response.status,
    headers: response.headers,
    body,
    lang: /^<!doctype html>\s*<html lang="([^"]*)"/.exec(body)?.[1],
  };
  return page;
}

/** A callback that matches no login of this browser: 400 ERR_LOGIN_STATE. */
const FOREIGN_CALLBACK = '/oidc/callback?code=abc&state=not-a-login-of-this-browser';

describe('built-in pages', () => {
  it('are in English by default, with a title, a sentence, the detail and the action link', async () => {
    const page = await pageOf(FOREIGN_CALLBACK);
    expect(page.status).toBe(400);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-language')).toBe('en');
    expect(page.lang).toBe('en');
    expect(page.body).toContain('<title>Login failed</title>');
    expect(page.body).toContain('This sign-in expired, was already used or was started in another browser.');
    expect(page.body).toContain('<a href="/login">Sign in again</a>');
    // Self-contained: no script, no external resource.
    expect(page.body).not.toMatch(/<script|<link|src=|url\(/i);
  });

  it('are in French for Accept-Language: fr-CH, fr;q=0.9', async () => {
    const page = await pageOf(FOREIGN_CALLBACK, { 'accept-language': 'fr-CH, fr;q=0.9' });
    expect(page.status).toBe(400);
    expect(page.lang).toBe('fr');
    expect(page.headers.get('content-language')).toBe('fr');
    expect(page.body).toContain('<title>Échec de la connexion</title>');
    expect(page.body).toContain('Veuillez recommencer la connexion.');
    expect(page.body).toContain('<a href="/login">Se reconnecter</a>');
  });

  it('are in English when English is preferred over French', async () => {
    const page = await pageOf(FOREIGN_CALLBACK, { 'accept-language': 'de-CH, en;q=0.8, fr;q=0.5' });
    expect(page.lang).toBe('en');
  });

  it("follow the signed-in user's cern_preferred_language (FR) over Accept-Language: en", async () => {
    const browser = await signedIn('mmartin');
    const page = await pageOf('/it-admins', { 'accept-language': 'en' }, browser);
    expect(page.status).toBe(403);
    expect(page.lang).toBe('fr');
    expect(page.body).toContain('<title>Accès refusé</title>');
    expect(page.body).toContain('Vous n&#39;avez pas accès à cette page.');
    // The guard's specific English message follows as a detail, marked as English.
    expect(page.body).toContain(
      '<p class="detail" lang="en">Access requires membership of &#34;IT-DEP-ADMINS&#34;.</p>',
    );
  });

  it("follow the signed-in user's cern_preferred_language (EN) over Accept-Language: fr", async () => {
    const browser = await signedIn('jdoe');
    const page = await pageOf('/it-admins', { 'accept-language': 'fr' }, browser);
    expect(page.status).toBe(403);
    expect(page.lang).toBe('en');
    expect(page.body).toContain('<title>Access denied</title>');
    expect(page.body).toContain(
      '<p class="detail">Access requires membership of &#34;IT-DEP-ADMINS&#34;.</p>',
    );
  });

  it('escape a group name with <script> in the 403 page', async () => {
    const browser = await signedIn('jdoe');
    const page = await pageOf('/script-group', {}, browser);
    expect(page.status).toBe(403);
    expect(page.body).not.toContain('<script');
    expect(page.body).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
  });

  it('keep the status and headers of the error (503 Retry-After)', async () => {
    const page = await pageOf('/outage', { 'accept-language': 'fr' });
    expect(page.status).toBe(503);
    expect(page.headers.get('retry-after')).toBe('7');
    expect(page.body).toContain('Service temporairement indisponible');
  });

  const printable = fc
    .integer({ min: 0x20, max: 0x7e })
    .map((code) => String.fromCharCode(code))
    .filter((c) => c !== ' ');
  const languageTag = fc.oneof(
    fc.constantFrom('en', 'fr', 'fr-CH', 'en-GB', 'de', '*', 'EN', 'Fr', 'it-IT', 'x-klingon'),
    fc.string({ unit: printable, maxLength: 12 }),
  );
  const acceptLanguage = fc.oneof(
    fc
      .array(fc.tuple(languageTag, fc.option(fc.double({ min: 0, max: 1, noNaN: true }))), { maxLength: 5 })
      .map((entries) =>
        entries.map(([tag, q]) => (q === null ? tag : `${tag};q=${q.toFixed(3)}`)).join(', '),
      ),
    fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) }),
  );
  const message = fc.oneof(
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }),
    fc
      .array(fc.constantFrom('<', '>', '&', '"', "'", '<script>', '&#60;', '</p>', 'é', 'a', ' '), {
        minLength: 1,
        maxLength: 12,
      })
      .map((parts) => parts.join('')),
  );
  const decode = (html: string): string =>
    html.replace(/&#(\d+);/g, (_entity, code: string) => String.fromCharCode(Number(code)));
  const tagCount = (html: string): number => html.split('<').length - 1;

  it('are well-formed for any Accept-Language and any message: the input adds no tag', async () => {
    const reference = await pageOf('/fail?m=plain');
    expect(reference.status).toBe(400);
    await fc.assert(
      fc.asyncProperty(acceptLanguage, message, async (header, text) => {
        const page = await pageOf(`/fail?m=${encodeURIComponent(text)}`, { 'accept-language': header });
        expect(page.status).toBe(400);
        expect(['en', 'fr']).toContain(page.lang);
        expect(page.headers.get('content-language')).toBe(page.lang);
        // Every `<` is the template's: as many as in the page of a plain message.
        expect(tagCount(page.body)).toBe(tagCount(reference.body));
        // The message is all there, escaped (decoding gives it back).
        const detail = /<p class="detail"[^>]*>([^<]*)<\/p>/.exec(page.body)?.[1];
        expect(detail === undefined ? undefined : decode(detail)).toBe(text);
      }),
      { numRuns: 100 },
    );
  });
});

describe('renderError', () => {
  const custom: RenderError = (error, req) => `<p>custom ${error.code} ${error.status} on ${req.path}</p>`;

  it('renders a callback failure', async () => {
    render = custom;
    const page = await pageOf(FOREIGN_CALLBACK);
    expect(page.status).toBe(400);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.body).toBe('<p>custom ERR_LOGIN_STATE 400 on /oidc/callback</p>');
  });

  it('renders the 403 of requireGroup', async () => {
    const browser = await signedIn('jdoe');
    render = custom;
    const page = await pageOf('/it-admins', {}, browser);
    expect(page.status).toBe(403);
    expect(page.body).toBe('<p>custom ERR_FORBIDDEN 403 on /it-admins</p>');
  });

  it('renders an error passed to cernSsoErrorHandler, with its status and headers', async () => {
    render = custom;
    const page = await pageOf('/outage');
    expect(page.status).toBe(503);
    expect(page.headers.get('retry-after')).toBe('7');
    expect(page.body).toBe('<p>custom ERR_UPSTREAM_UNAVAILABLE 503 on /outage</p>');
  });

  it('is not used for JSON clients', async () => {
    render = custom;
    const response = await fetch(`${app.baseUrl}/outage`, { headers: { accept: 'application/json' } });
    expect(response.status).toBe(503);
    expect(((await response.json()) as { code: string }).code).toBe('ERR_UPSTREAM_UNAVAILABLE');
  });

  it('returning undefined gives the built-in page', async () => {
    let calls = 0;
    render = () => {
      calls += 1;
      return undefined;
    };
    const page = await pageOf(FOREIGN_CALLBACK);
    expect(calls).toBe(1);
    expect(page.status).toBe(400);
    expect(page.body).toContain('<title>Login failed</title>');
    expect(app.logger.error).not.toHaveBeenCalled();
  });

  it('throwing gives the built-in page, the same status and one error log line', async () => {
    const browser = await signedIn('jdoe');
    render = () => {
      throw new Error('template missing');
    };
    const page = await pageOf('/it-admins', {}, browser);
    expect(page.status).toBe(403);
    expect(page.body).toContain('<title>Access denied</title>');
    expect(page.body).not.toContain('template missing');
    expect(app.logger.error).toHaveBeenCalledTimes(1);
    expect(app.logger.lines('error').at(-1)).toMatch(
      /^renderError failed: the built-in page was sent: .*template missing.*\(code=ERR_FORBIDDEN option=renderError method=GET path=\/it-admins\)$/,
    );
  });

  it('returning something other than a string gives the built-in page and one error log line', async () => {
    render = (() => 42) as unknown as RenderError;
    const page = await pageOf('/outage');
    expect(page.status).toBe(503);
    expect(page.headers.get('retry-after')).toBe('7');
    expect(page.body).toContain('<title>Service temporarily unavailable</title>');
    expect(app.logger.error).toHaveBeenCalledTimes(1);
    expect(app.logger.lines('error').at(-1)).toMatch(
      /^renderError failed.*\(problem=returned number instead/,
    );
  });

  it('renders the failures of /login and /logout (no express-session mounted)', async () => {
    const renderError: NonNullable<CernSsoOptions['renderError']> = (error, req) =>
      `<p>${error.code} on ${req.path}</p>`;
    const bare = await startTestApp(emulator, {
      clientId: 'pages-no-session',
      withSession: false,
      sso: { renderError },
    });
    try {
      for (const path of ['/login', '/logout']) {
        const response = await new TestBrowser().request(`${bare.baseUrl}${path}`);
        expect(response.status).toBe(500);
        expect(await response.text()).toBe(`<p>ERR_SESSION_MISSING on ${path}</p>`);
      }
    } finally {
      await bare.close();
    }
  });

  it('must be a function', () => {
    expect(() =>
      cernSso({
        clientId: 'test-app',
        clientSecret: 'test-app-secret',
        baseUrl: app.baseUrl,
        issuer: emulator.issuer,
        renderError: 'page.html' as unknown as RenderError,
      }),
    ).toThrow(/renderError: must be a function/);
  });
});
