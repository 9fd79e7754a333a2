import { hasUnsafeText } from '../untrusted-text.js';
import { badInput } from './validation.js';

/** Longest cursor accepted; a real one (path, filters, fields, token) is far shorter. */
const MAX_CURSOR_LENGTH = 8192;

/** The cursor of the page at `next`: its path and query on the API host, nothing else. */
export function cursorOf(next: string | undefined): string | null {
  return next ?? null;
}

/**
 * Checks a resume cursor (`{ after }`) before any request uses it. It comes from the
 * application's storage, so it is untrusted: it must be a path on the API host (no scheme, no
 * host, no `//`, no backslash, no control characters), of the listing being resumed
 * (`listUrl`'s path exactly), with a continuation `token`, and the same filters as the call.
 * Returns the URL to request.
 *
 * @throws CernSsoError `ERR_BAD_REQUEST` naming the method when the cursor does not qualify.
 */
export function parseCursor(method: string, cursor: unknown, listUrl: URL, filters: readonly string[]): URL {
  const invalid = (why: string) => badInput(method, `invalid "after" cursor: ${why}`);
  if (typeof cursor !== 'string') throw invalid('it must be the string given to onProgress');
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH) throw invalid('wrong length');
  if (hasUnsafeText(cursor) || /[\s\\#]/.test(cursor))
    throw invalid('it contains characters a cursor never has');
  // A path, never a URL of its own: `//host/...` would be protocol-relative.
  if (!cursor.startsWith('/') || cursor.startsWith('//')) throw invalid('it is not a path on the API host');
  let url: URL;
  try {
    url = new URL(cursor, listUrl.origin);
  } catch {
    throw invalid('it is not a URL path');
  }
  if (url.origin !== listUrl.origin || url.pathname !== listUrl.pathname) {
    throw invalid('it belongs to another listing');
  }
  const token = url.searchParams.getAll('token');
  if (token.length !== 1 || token[0] === '') throw invalid('it has no continuation token');
  const given = url.searchParams.getAll('filter').sort();
  const wanted = [...filters].sort();
  if (given.length !== wanted.length || given.some((filter, index) => filter !== wanted[index])) {
    throw invalid('it was made for other filters');
  }
  return url;
}
