/**
 * A small cookie jar for `emulator.login()`: host-only cookies with RFC 6265 path matching and
 * expiry (`Max-Age`, `Expires`), enough to carry an app's login cookies from `/login` to its
 * callback the way a browser does. `Secure` cookies are kept on http too: tests run on loopback.
 */
interface StoredCookie {
  name: string;
  value: string;
  host: string;
  path: string;
  /** `Date.now()` after which the cookie is gone; undefined for a session cookie. */
  expiresAt: number | undefined;
}

/** RFC 6265 §5.1.4: the cookie path is the request path or a prefix of it ending at a `/`. */
function pathMatches(cookiePath: string, requestPath: string): boolean {
  if (cookiePath === requestPath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

/** RFC 6265 §5.1.4 default path: the request path up to its last `/`. */
function defaultPath(requestPath: string): string {
  const last = requestPath.lastIndexOf('/');
  return last <= 0 ? '/' : requestPath.slice(0, last);
}

function expiryOf(attributes: Map<string, string>, now: number): number | undefined {
  const maxAge = attributes.get('max-age');
  if (maxAge !== undefined && /^-?\d+$/.test(maxAge)) return now + Number(maxAge) * 1000;
  const expires = attributes.get('expires');
  if (expires !== undefined) {
    const at = Date.parse(expires);
    if (!Number.isNaN(at)) return at;
  }
  return undefined;
}

export class CookieJar {
  private readonly cookies: StoredCookie[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  /** Stores (or deletes, when expired) the cookies a response to `url` sets. */
  store(url: URL, response: Response): void {
    const now = this.now();
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...rest] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const attributes = new Map<string, string>();
      for (const part of rest) {
        const index = part.indexOf('=');
        const key = (index < 0 ? part : part.slice(0, index)).trim().toLowerCase();
        attributes.set(key, index < 0 ? '' : part.slice(index + 1).trim());
      }
      const rawPath = attributes.get('path');
      const cookie: StoredCookie = {
        name: pair.slice(0, eq).trim(),
        value: pair.slice(eq + 1).trim(),
        host: url.hostname,
        path: rawPath?.startsWith('/') ? rawPath : defaultPath(url.pathname),
        expiresAt: expiryOf(attributes, now),
      };
      const index = this.cookies.findIndex(
        (c) => c.name === cookie.name && c.host === cookie.host && c.path === cookie.path,
      );
      if (index >= 0) this.cookies.splice(index, 1);
      if (cookie.expiresAt === undefined || cookie.expiresAt > now) this.cookies.push(cookie);
    }
  }

  /** The `Cookie` header a browser sends to `url` (longest paths first), or `''`. */
  header(url: URL): string {
    const now = this.now();
    return this.cookies
      .filter((c) => c.host === url.hostname && pathMatches(c.path, url.pathname))
      .filter((c) => c.expiresAt === undefined || c.expiresAt > now)
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}
