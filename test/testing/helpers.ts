import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JSONWebKeySet } from 'jose';
import type { CernSsoEmulator } from 'express-cern-sso/testing';

/** A token endpoint answer (success or OAuth error). */
export interface TokenBody {
  access_token: string;
  id_token: string;
  refresh_token: string;
  expires_in: number;
  refresh_expires_in: number;
  error?: string;
  error_description?: string;
  [name: string]: unknown;
}

/** Decoded JWT claims, with the numeric and string claims the tests do arithmetic or lookups on. */
export interface Claims {
  iat: number;
  exp: number;
  nbf: number;
  sub: string;
  sid: string;
  [name: string]: unknown;
}

/** GETs JSON. */
export async function getJson(url: string): Promise<Record<string, unknown>> {
  return (await (await fetch(url)).json()) as Record<string, unknown>;
}

/** The emulator's published JWKS. */
export async function fetchJwks(emu: CernSsoEmulator): Promise<JSONWebKeySet> {
  return (await (await fetch(`${emu.issuer}/protocol/openid-connect/certs`)).json()) as JSONWebKeySet;
}

export const REDIRECT_URI = 'http://localhost:3000/oidc/callback';
export const DEMO_CLIENT = { id: 'demo-app', secret: 'demo-app-secret' };

/** A fresh PKCE verifier and its S256 challenge. */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** Minimal cookie jar (ignores paths and expiry, enough for one host). */
export class CookieJar {
  readonly cookies = new Map<string, string>();

  update(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const index = pair.indexOf('=');
      const name = pair.slice(0, index).trim();
      const value = pair.slice(index + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): Record<string, string> {
    if (this.cookies.size === 0) return {};
    return { cookie: [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ') };
  }
}

export function basic(id: string, secret: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` };
}

/** GET the authorization endpoint without following redirects. */
export async function authorize(
  emu: CernSsoEmulator,
  params: Record<string, string | undefined>,
  jar?: CookieJar,
): Promise<Response> {
  const url = new URL(`${emu.issuer}/protocol/openid-connect/auth`);
  for (const [name, value] of Object.entries(params))
    if (value !== undefined) url.searchParams.set(name, value);
  const response = await fetch(url, { redirect: 'manual', headers: jar?.header() ?? {} });
  jar?.update(response);
  return response;
}

/** Standard parameters of a code flow request for the demo client. */
export function codeRequest(challenge: string, extra: Record<string, string | undefined> = {}) {
  return {
    client_id: DEMO_CLIENT.id,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: 'openid profile email',
    state: 'st-' + randomBytes(4).toString('hex'),
    nonce: 'nonce-' + randomBytes(4).toString('hex'),
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
}

/** Extracts the login form's action from the HTML page. */
export function formAction(html: string, base: string): string {
  const match = /<form[^>]*action="([^"]+)"/.exec(html);
  if (!match?.[1]) throw new Error('no login form in page');
  return new URL(match[1].replace(/&amp;/g, '&'), base).href;
}

/** POSTs the login form. */
export async function submitLogin(
  action: string,
  username: string,
  password: string,
  jar?: CookieJar,
): Promise<Response> {
  const response = await fetch(action, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(jar?.header() ?? {}) },
    body: new URLSearchParams({ username, password }).toString(),
  });
  jar?.update(response);
  return response;
}

/** POSTs a form to a realm endpoint (path relative to the issuer). */
export async function postForm(
  emu: CernSsoEmulator,
  path: string,
  params: Record<string, string | string[]>,
  headers: Record<string, string> = basic(DEMO_CLIENT.id, DEMO_CLIENT.secret),
): Promise<{ status: number; body: TokenBody; response: Response }> {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) form.append(name, item);
  }
  const response = await fetch(`${emu.issuer}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: form.toString(),
  });
  const text = await response.text();
  let body: unknown = { text };
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: body as TokenBody, response };
}

export const TOKEN_PATH = '/protocol/openid-connect/token';

/** Runs a complete code flow with auto-login or a cookie session; returns the tokens. */
export async function codeFlow(
  emu: CernSsoEmulator,
  options: { jar?: CookieJar; extra?: Record<string, string> } = {},
): Promise<{ tokens: TokenBody; location: URL; verifier: string }> {
  const { verifier, challenge } = pkce();
  const response = await authorize(emu, codeRequest(challenge, options.extra), options.jar);
  if (response.status !== 302) throw new Error(`authorize answered ${response.status}`);
  const location = new URL(response.headers.get('location') ?? '');
  const code = location.searchParams.get('code');
  if (!code) throw new Error(`no code in ${location.href}`);
  const { status, body } = await postForm(emu, TOKEN_PATH, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: REDIRECT_URI,
    code_verifier: verifier,
  });
  if (status !== 200) throw new Error(`token endpoint answered ${status}: ${JSON.stringify(body)}`);
  return { tokens: body, location, verifier };
}

/** Decodes a JWT payload without verifying it. */
export function claimsOf(jwt: string): Claims {
  const [, payload = ''] = jwt.split('.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Claims;
}

export function headerOf(jwt: string): Record<string, unknown> {
  const [header = ''] = jwt.split('.');
  return JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** A tiny HTTP server recording form POSTs (a client's back-channel logout endpoint). */
export async function startRecorder(status = 200): Promise<{
  url: string;
  received: { path: string; body: URLSearchParams; contentType: string }[];
  close: () => Promise<void>;
}> {
  const received: { path: string; body: URLSearchParams; contentType: string }[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      data += chunk;
    });
    req.on('end', () => {
      received.push({
        path: req.url ?? '',
        body: new URLSearchParams(data),
        contentType: req.headers['content-type'] ?? '',
      });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}
