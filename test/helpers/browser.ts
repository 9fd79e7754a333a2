/**
 * A tiny cookie-keeping HTTP client that behaves like a browser for redirects: cookies are kept
 * per host name (not per port, as browsers do), redirects are followed by hand so every hop can
 * be inspected, and `Accept: text/html` is sent unless told otherwise.
 */
export interface Hop {
  url: string;
  status: number;
  location?: string;
}

export interface BrowserResponse {
  url: string;
  status: number;
  headers: Headers;
  body: string;
  hops: Hop[];
}

export class TestBrowser {
  /** cookies[host][name] = value */
  readonly cookies = new Map<string, Map<string, string>>();

  cookie(host: string, name: string): string | undefined {
    return this.cookies.get(host)?.get(name);
  }

  /** Set-Cookie headers received, by host, for attribute checks. */
  readonly setCookieHeaders: { host: string; header: string }[] = [];

  private store(url: URL, headers: Headers): void {
    for (const header of headers.getSetCookie()) {
      this.setCookieHeaders.push({ host: url.hostname, header });
      const [pair = '', ...attributes] = header.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const jar = this.cookies.get(url.hostname) ?? new Map<string, string>();
      const expired = attributes.some(
        (a) => /^\s*max-age=0/i.test(a) || /^\s*expires=thu, 01 jan 1970/i.test(a),
      );
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
      this.cookies.set(url.hostname, jar);
    }
  }

  private cookieHeader(url: URL): string | undefined {
    const jar = this.cookies.get(url.hostname);
    if (!jar || jar.size === 0) return undefined;
    return [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** One request, no redirect following. */
  async request(
    url: string,
    init: { method?: string; body?: URLSearchParams | string; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const target = new URL(url);
    const headers: Record<string, string> = { accept: 'text/html,application/xhtml+xml', ...init.headers };
    const cookie = this.cookieHeader(target);
    if (cookie) headers.cookie = cookie;
    const requestInit: RequestInit = { method: init.method ?? 'GET', headers, redirect: 'manual' };
    if (init.body !== undefined) requestInit.body = init.body;
    const response = await fetch(target, requestInit);
    this.store(target, response.headers);
    return response;
  }

  /** A request that follows redirects (303/302 become GET), recording every hop. */
  async navigate(
    url: string,
    init: {
      method?: string;
      body?: URLSearchParams | string;
      headers?: Record<string, string>;
      maxHops?: number;
    } = {},
  ): Promise<BrowserResponse> {
    const hops: Hop[] = [];
    let current = url;
    let request = init;
    for (let i = 0; i <= (init.maxHops ?? 15); i++) {
      const response = await this.request(current, request);
      const location = response.headers.get('location');
      hops.push({ url: current, status: response.status, ...(location ? { location } : {}) });
      if (response.status >= 300 && response.status < 400 && location) {
        await response.arrayBuffer();
        current = new URL(location, current).href;
        request =
          response.status === 307 || response.status === 308 ? request : { headers: init.headers ?? {} };
        continue;
      }
      return {
        url: current,
        status: response.status,
        headers: response.headers,
        body: await response.text(),
        hops,
      };
    }
    throw new Error(`too many redirects from ${url}`);
  }

  /** Submits the first HTML form of a page with the given field values (plus its hidden inputs). */
  async submitForm(page: BrowserResponse, fields: Record<string, string>): Promise<BrowserResponse> {
    const form = /<form[^>]*>([\s\S]*?)<\/form>/i.exec(page.body);
    if (!form) throw new Error(`no form on ${page.url}`);
    const action = /action="([^"]*)"/i.exec(form[0])?.[1]?.replace(/&amp;/g, '&') ?? page.url;
    const method = /method="([^"]*)"/i.exec(form[0])?.[1] ?? 'post';
    const body = new URLSearchParams();
    for (const input of form[1]?.matchAll(/<input[^>]*>/gi) ?? []) {
      const name = /name="([^"]*)"/i.exec(input[0])?.[1];
      const value = /value="([^"]*)"/i.exec(input[0])?.[1] ?? '';
      if (name && /type="hidden"/i.test(input[0])) body.set(name, value.replace(/&amp;/g, '&'));
    }
    for (const [name, value] of Object.entries(fields)) body.set(name, value);
    return this.navigate(new URL(action, page.url).href, {
      method: method.toUpperCase(),
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
  }
}
