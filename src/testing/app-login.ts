import { findUser, type EmulatorContext } from './context.js';
import { CookieJar } from './cookie-jar.js';
import { LOGIN_TICKET_HEADER } from './login-tickets.js';
import type { EmulatorLoginOptions, EmulatorLoginResult } from './types.js';

/**
 * The library's defaults, duplicated on purpose: the emulator imports nothing from the library
 * (`routes.login` of `cernSso()`, and the query parameter its login route reads).
 */
const DEFAULT_LOGIN_PATH = '/login';
const RETURN_TO_PARAM = 'returnTo';

const EXCERPT_LENGTH = 300;

function isRedirect(status: number): boolean {
  return status >= 300 && status < 400;
}

/** A short, single-line excerpt of a response body for an error message (tags dropped). */
async function excerpt(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  const flat = text
    .replace(/<(style|script)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return flat.length > EXCERPT_LENGTH ? `${flat.slice(0, EXCERPT_LENGTH)}…` : flat;
}

function locationOf(response: Response, from: URL): URL {
  const location = response.headers.get('location');
  if (location === null) throw new Error(`emulator.login: ${from.href} redirected without a Location header`);
  return new URL(location, from);
}

async function get(url: URL, headers: Record<string, string>): Promise<Response> {
  return fetch(url, { redirect: 'manual', headers });
}

/**
 * Signs `login` in to the app at `baseUrl` the way a browser does: GET the app's login route,
 * authorize at this emulator as that user (a one-time ticket, not the global `autoLogin`), then
 * GET the app's callback with the app's cookies. Resolves to the `Cookie` header of the app's
 * cookies afterwards (those a browser sends to every page under `baseUrl`).
 */
export async function loginToApp(
  ctx: EmulatorContext,
  options: EmulatorLoginOptions,
): Promise<EmulatorLoginResult> {
  const { login } = options;
  if (!findUser(ctx, login)) {
    const known = ctx.users.slice(0, 10).map((user) => user.login);
    throw new Error(
      `emulator.login: unknown user "${login}" (users of this emulator include: ${known.join(', ')})`,
    );
  }
  const base = new URL(options.baseUrl);
  const prefix = base.pathname.replace(/\/+$/, '');
  const loginUrl = new URL(`${prefix}${options.loginPath ?? DEFAULT_LOGIN_PATH}`, base);
  if (options.returnTo !== undefined) loginUrl.searchParams.set(RETURN_TO_PARAM, options.returnTo);
  const jar = new CookieJar();

  const started = await get(loginUrl, {});
  if (!isRedirect(started.status)) {
    throw new Error(
      `emulator.login: the app answered ${started.status} at ${loginUrl.href} instead of a redirect to the emulator: ${await excerpt(started)}`,
    );
  }
  jar.store(loginUrl, started);
  const authorizeUrl = locationOf(started, loginUrl);
  const authorizeEndpoint = `${ctx.issuer}/protocol/openid-connect/auth`;
  if (`${authorizeUrl.origin}${authorizeUrl.pathname}` !== authorizeEndpoint) {
    throw new Error(
      `emulator.login: ${loginUrl.href} redirected to ${authorizeUrl.origin}${authorizeUrl.pathname}, not to this emulator (${authorizeEndpoint}): is the app's issuer ${ctx.issuer}?`,
    );
  }

  const ticket = ctx.loginTickets.create(login);
  let authorized: Response;
  try {
    authorized = await get(authorizeUrl, { [LOGIN_TICKET_HEADER]: ticket });
  } finally {
    ctx.loginTickets.delete(ticket);
  }
  if (!isRedirect(authorized.status)) {
    throw new Error(
      `emulator.login: the emulator's authorization endpoint answered ${authorized.status}: ${await excerpt(authorized)}`,
    );
  }
  const callbackUrl = locationOf(authorized, authorizeUrl);
  const refused = callbackUrl.searchParams.get('error');
  if (refused !== null) {
    const description = callbackUrl.searchParams.get('error_description') ?? '';
    throw new Error(
      `emulator.login: the emulator refused to sign "${login}" in: ${refused} (${description})`,
    );
  }

  const cookie = jar.header(callbackUrl);
  const completed = await get(callbackUrl, cookie === '' ? {} : { cookie });
  if (!isRedirect(completed.status)) {
    throw new Error(
      `emulator.login: the app's callback ${callbackUrl.origin}${callbackUrl.pathname} answered ${completed.status}: ${await excerpt(completed)}`,
    );
  }
  jar.store(callbackUrl, completed);
  const signedIn = jar.header(new URL(`${prefix}/`, base));
  if (signedIn === '') throw new Error(`emulator.login: the app's callback set no cookie for ${base.href}`);
  return { cookie: signedIn };
}
