/**
 * A code-flow login driven over plain HTTP, the way a browser does it, against any Keycloak-like
 * IdP whose login page is an HTML form posting to `…/login-actions/authenticate` (real Keycloak
 * and the emulator both): authorization request with PKCE S256, state and nonce, the login form,
 * the redirect back with the code, and the code exchange with `client_secret_basic`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { TestBrowser } from '../helpers/browser.js';

/** A client registered at the IdP, with the user who signs in. */
export interface CodeLoginClient {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  username: string;
  password: string;
}

/** The parsed JSON answer of a token endpoint, with its status. */
export interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** What a code-flow login produced. */
export interface CodeLogin {
  /** The authorization response (redirect to `redirect_uri`). */
  callback: URL;
  nonce: string;
  /** The redeemed code (used by then). */
  code: string;
  tokens: { access_token: string; id_token: string; refresh_token: string } & Record<string, unknown>;
  /** The browser, with the IdP's SSO cookies. */
  browser: TestBrowser;
}

export function basicAuth(clientId: string, secret: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}` };
}

/** POSTs a form to an IdP endpoint; the body is parsed as JSON when it is JSON. */
export async function postForm(
  url: string,
  params: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<TokenAnswer & { headers: Headers }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
  const text = await response.text();
  let body: Record<string, unknown> = { text };
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Not JSON (an HTML error page): keep the text.
  }
  return { status: response.status, body, headers: response.headers };
}

/** The login form's action (absolute), from the login page. */
function loginFormAction(html: string, pageUrl: string): string {
  for (const form of html.matchAll(/<form[^>]*>/gi)) {
    const action = /action="([^"]*)"/i.exec(form[0])?.[1]?.replace(/&amp;/g, '&');
    if (action?.includes('/login-actions/authenticate')) return new URL(action, pageUrl).href;
  }
  throw new Error(`no login form on ${pageUrl}`);
}

/** Signs `client.username` in through the IdP's login form and redeems the code. */
export async function codeLogin(client: CodeLoginClient): Promise<CodeLogin> {
  const browser = new TestBrowser();
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(8).toString('hex');
  const nonce = randomBytes(8).toString('hex');
  const authorize = new URL(`${client.issuer}/protocol/openid-connect/auth`);
  authorize.search = new URLSearchParams({
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    response_type: 'code',
    scope: 'openid profile email',
    state,
    nonce,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  const page = await browser.navigate(authorize.href);
  if (page.status !== 200) throw new Error(`authorization endpoint answered ${page.status}: ${page.body}`);
  const posted = await browser.request(loginFormAction(page.body, page.url), {
    method: 'POST',
    body: new URLSearchParams({ username: client.username, password: client.password, credentialId: '' }),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  const text = await posted.text();
  const location = posted.headers.get('location');
  if (posted.status !== 302 || !location) throw new Error(`login form answered ${posted.status}: ${text}`);
  const callback = new URL(location);
  const code = callback.searchParams.get('code');
  if (callback.searchParams.get('state') !== state || !code) {
    throw new Error(`unexpected authorization response ${callback.href}`);
  }
  const answer = await postForm(
    `${client.issuer}/protocol/openid-connect/token`,
    { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, code_verifier: verifier },
    basicAuth(client.clientId, client.clientSecret),
  );
  if (answer.status !== 200)
    throw new Error(`code exchange: ${answer.status} ${JSON.stringify(answer.body)}`);
  return { callback, nonce, code, tokens: answer.body as CodeLogin['tokens'], browser };
}
