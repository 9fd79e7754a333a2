import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { badRequest } from './errors.js';
import { singleParam } from './query.js';

/** The `pagination` object of a paginated AuthZ API response. */
export interface Pagination {
  /** Number of rows matching the query, over all pages. */
  total: number;
  /** Page size actually used (the requested `limit`, capped). */
  limit: number;
  /** Index of this page's first row. */
  offset: number;
  /** Path (on the API host) of the next page, with the original query plus `token`; null on the last page. */
  next: string | null;
  /** Opaque continuation token for the next page (same as in `next`); null on the last page. */
  token: string | null;
}

/** A page of rows and its pagination metadata. */
export interface Page<T> {
  rows: T[];
  pagination: Pagination;
}

/** Where a paginated list lives, for building `next` and binding tokens to their query. */
export interface PageContext {
  /** Request path including the mount point, e.g. `/api/v1.0/Identity`; already URL-encoded. */
  path: string;
  /** The request's query parameters. */
  params: URLSearchParams;
  /** Stable name of the listed collection (e.g. `Identity`, or `Group/<id>/members`): tokens only work there. */
  resource: string;
}

/** Options of {@link Paginator}. */
export interface PaginatorOptions {
  defaultPageSize: number;
  maxPageSize: number;
  /** HMAC key for tokens. Default: random per paginator, so tokens do not outlive the emulator. */
  secret?: Uint8Array;
}

const TOKEN_PATTERN = /^(\d{1,15})\.([A-Za-z0-9_-]{22})$/;

/**
 * Offset pagination with opaque, tamper-proof continuation tokens. A token is
 * `base64url("<offset>.<mac>")` where the MAC (HMAC-SHA256, truncated) covers the offset and
 * the collection plus its filters: a token altered by hand, or replayed against another query,
 * is a 400 instead of silently returning the wrong rows. `field=` and `limit` are not bound, so a
 * client may change the page size or projection mid-way, as the real API allows.
 */
export class Paginator {
  readonly #defaultPageSize: number;
  readonly #maxPageSize: number;
  readonly #secret: Uint8Array;

  constructor(options: PaginatorOptions) {
    for (const name of ['defaultPageSize', 'maxPageSize'] as const) {
      const value = options[name];
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new TypeError(`${name} must be a positive integer, got ${String(value)}`);
      }
    }
    this.#maxPageSize = options.maxPageSize;
    this.#defaultPageSize = Math.min(options.defaultPageSize, options.maxPageSize);
    this.#secret = options.secret ?? randomBytes(32);
  }

  /**
   * Slices `rows` (already filtered and in their stable order) according to the request's
   * `limit` and `token`. Throws a 400 for an invalid `limit` or token.
   */
  paginate<T>(rows: readonly T[], context: PageContext): Page<T> {
    const limit = this.#limit(context.params);
    const scope = scopeOf(context);
    const rawToken = singleParam(context.params, 'token');
    const offset = rawToken === undefined || rawToken === '' ? 0 : this.#readToken(rawToken, scope);
    const end = offset + limit;
    const total = rows.length;
    let next: string | null = null;
    let token: string | null = null;
    if (end < total) {
      token = this.#makeToken(end, scope);
      const query = new URLSearchParams(context.params);
      query.delete('token');
      query.set('limit', String(limit));
      query.append('token', token);
      next = `${context.path}?${query.toString()}`;
    }
    return { rows: rows.slice(offset, end), pagination: { total, limit, offset, next, token } };
  }

  #limit(params: URLSearchParams): number {
    const raw = singleParam(params, 'limit');
    if (raw === undefined || raw === '') return this.#defaultPageSize;
    const value = /^\d{1,9}$/.test(raw) ? Number(raw) : Number.NaN;
    if (!(value >= 1)) throw badRequest(`Invalid limit '${raw}': expected a positive integer`);
    return Math.min(value, this.#maxPageSize);
  }

  #mac(offset: number, scope: string): string {
    return createHmac('sha256', this.#secret)
      .update(`${offset}\n${scope}`)
      .digest()
      .subarray(0, 16)
      .toString('base64url');
  }

  #makeToken(offset: number, scope: string): string {
    return Buffer.from(`${offset}.${this.#mac(offset, scope)}`).toString('base64url');
  }

  #readToken(token: string, scope: string): number {
    const invalid = badRequest('Invalid pagination token: it was altered or belongs to another query');
    const decoded = Buffer.from(token, 'base64url').toString('latin1');
    // Node's base64url decoder skips invalid characters; re-encoding catches tokens padded with junk.
    if (Buffer.from(decoded, 'latin1').toString('base64url') !== token) throw invalid;
    const match = TOKEN_PATTERN.exec(decoded);
    if (match?.[1] === undefined || match[2] === undefined) throw invalid;
    const offset = Number(match[1]);
    const expected = Buffer.from(this.#mac(offset, scope));
    const actual = Buffer.from(match[2]);
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) throw invalid;
    return offset;
  }
}

// Filters are sorted so that the same filters in another order (e.g. a client re-sending the
// original query with the `token` fallback) still match; a digest keeps the MAC input short.
function scopeOf(context: PageContext): string {
  const filters = context.params.getAll('filter').sort();
  return createHash('sha256')
    .update(JSON.stringify([context.resource, filters]))
    .digest('base64url');
}
