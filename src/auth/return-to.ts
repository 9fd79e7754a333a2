/**
 * `returnTo` is accepted only as a same-origin, app-relative path. Everything else (absolute
 * URLs, scheme-relative `//host`, backslash tricks `/\host`, control characters, encoded
 * variants of those) falls back to `/`, so the login flow can never be used as an open redirect.
 */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

export function safeReturnTo(value: unknown, fallback = '/'): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) return fallback;
  // Decode repeatedly so that %2F%2F, %5C and double-encoded variants are judged as the browser would.
  let decoded = value;
  for (let i = 0; i < 3; i++) {
    let next: string;
    try {
      next = decodeURIComponent(decoded);
    } catch {
      return fallback;
    }
    if (next === decoded) break;
    decoded = next;
  }
  for (const candidate of [value, decoded]) {
    if (!candidate.startsWith('/')) return fallback;
    // Browsers treat "\" as "/" and ignore tabs/newlines inside URLs.
    if (candidate.includes('\\') || hasControlCharacter(candidate)) return fallback;
    if (candidate.startsWith('//')) return fallback;
  }
  // Final check with the URL parser: resolving against a dummy origin must stay on it.
  const origin = 'http://return-to.invalid';
  let url: URL;
  try {
    url = new URL(value, origin);
  } catch {
    return fallback;
  }
  if (url.origin !== origin) return fallback;
  // The parser folds dot segments (`/..//host`, `/%2e%2e//host`, `/.//host`): what it produces
  // must pass the same test, or `Location: //host` would leave the site.
  const path = url.pathname + url.search + url.hash;
  if (path.startsWith('//') || path.includes('\\')) return fallback;
  return path;
}
