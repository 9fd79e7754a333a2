import type { AuthzClient, QueryParams } from './authz-client.js';
import { cursorOf, parseCursor } from './iteration-cursor.js';
import type { PageRetryPolicy } from './page-retry.js';
import type { IterateOptions } from './types.js';
import { badInput } from './validation.js';

/** Page size of full listings (the API's maximum). */
const FULL_PAGE_SIZE = 1000;

export interface ListingSpec<T> {
  method: string;
  /** List resource, relative to `/api/v1.0` (e.g. `/Identity`). */
  path: string;
  filters: readonly string[];
  /** `field=` parameters. */
  fields: QueryParams;
  /** One API row to an item, or `null` to skip it. */
  map: (row: unknown) => T | null;
}

/** The `{ after, onProgress }` of an iteration, checked at the call (not at the first `next()`). */
export function checkIterateOptions(method: string, options: unknown): IterateOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) throw badInput(method, 'options must be an object');
  const { after, onProgress } = options as IterateOptions;
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw badInput(method, 'onProgress must be a function');
  }
  return { after, onProgress };
}

/**
 * Every item of a listing, page by page: a page that fails with an outage is retried (`retry`);
 * `onProgress({ pages, items, cursor })` runs (and is awaited) once the caller has taken every
 * item of a page, so a cursor stored from it never skips an item the caller has not handled.
 * `after` resumes at the page that cursor names.
 */
export function iterateListing<T>(
  api: AuthzClient,
  spec: ListingSpec<T>,
  options: IterateOptions,
  retry: PageRetryPolicy,
): AsyncGenerator<T, void, undefined> {
  // Validated now, so a bad cursor fails at the call.
  const start =
    options.after === undefined
      ? undefined
      : parseCursor(spec.method, options.after, api.listUrl(spec.path), spec.filters);
  const query: QueryParams = [...spec.filters.map((filter) => ['filter', filter] as const), ...spec.fields];
  return (async function* listing() {
    let pages = 0;
    let items = 0;
    for await (const page of api.pages(spec.path, query, {
      pageSize: FULL_PAGE_SIZE,
      retry,
      ...(start === undefined ? {} : { start }),
    })) {
      for (const row of page.rows) {
        const item = spec.map(row);
        if (item === null) continue;
        items += 1;
        yield item;
      }
      pages += 1;
      await options.onProgress?.({ pages, items, cursor: cursorOf(page.next) });
    }
  })();
}
