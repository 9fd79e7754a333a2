/**
 * Logs in through the CERN SSO emulator like a browser would: follows the redirects by hand and
 * keeps cookies per host name (the app is on `localhost`, the emulator on `127.0.0.1`, so their
 * cookies stay apart). Returns the final answer and the cookies of the app's host.
 */
export async function browserLogin(
  startUrl: string,
  maxHops = 10,
): Promise<{ status: number; url: string; body: string; cookies: Map<string, string> }> {
  const jars = new Map<string, Map<string, string>>();
  let url = startUrl;
  for (let hop = 0; hop <= maxHops; hop++) {
    const target = new URL(url);
    const jar = jars.get(target.hostname) ?? new Map<string, string>();
    jars.set(target.hostname, jar);
    const headers: Record<string, string> = { accept: 'text/html,application/xhtml+xml' };
    if (jar.size > 0) headers.cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await fetch(target, {
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
    });
    for (const header of response.headers.getSetCookie()) {
      const [pair = ''] = header.split(';');
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.arrayBuffer();
      url = new URL(location, url).href;
      continue;
    }
    const startHost = new URL(startUrl).hostname;
    return {
      status: response.status,
      url,
      body: await response.text(),
      cookies: jars.get(startHost) ?? new Map(),
    };
  }
  throw new Error(`more than ${maxHops} redirects from ${startUrl}`);
}
