/**
 * One sync run: mirrors CERN identities into the SQLite store. The first run copies everyone;
 * later runs fetch only identities whose `modificationTime` is after the last complete run
 * (the AuthZ `gt` filter). A run that crashed resumes from its stored cursor, with its own
 * filters, so nothing is fetched twice or missed.
 */
import type { CernIdentity, IdentityProvider } from 'express-cern-sso';
import type { SyncStore } from './store.js';

/**
 * Subtracted from a run's start time to get the next run's `modificationTime` bound: covers a
 * clock difference between this machine and the Authorization Service, and changes made while
 * the run was reading. Re-reading a few identities is harmless (upserts).
 */
export const CLOCK_MARGIN_MS = 5 * 60_000;

export interface SyncResult {
  mode: 'full' | 'delta' | 'resumed';
  filters: string[];
  pages: number;
  items: number;
}

export interface SyncOptions {
  identity: IdentityProvider;
  store: SyncStore;
  /** The clock of the watermark. Default `Date.now`. */
  now?: () => number;
}

export async function syncIdentities({ identity, store, now = Date.now }: SyncOptions): Promise<SyncResult> {
  const pending = store.pending();
  let mode: SyncResult['mode'];
  let filters: string[];
  let startedAt: string;
  if (pending !== undefined) {
    mode = 'resumed';
    ({ filters, startedAt } = pending);
  } else {
    const watermark = store.watermark();
    mode = watermark === undefined ? 'full' : 'delta';
    filters = watermark === undefined ? [] : [`modificationTime:gt:${watermark}`];
    startedAt = new Date(now()).toISOString();
    store.begin(filters, startedAt);
  }

  let page: CernIdentity[] = [];
  const progress = { pages: 0, items: 0 };
  const run = async (after: string | undefined): Promise<void> => {
    const iteration = identity.iterateIdentities(filters, {
      after,
      // After each complete page: its rows and the cursor that follows it, in one transaction.
      onProgress: ({ pages, items, cursor }) => {
        store.savePage(page, cursor);
        page = [];
        progress.pages = pages;
        progress.items = items;
      },
    });
    for await (const user of iteration) page.push(user);
  };
  try {
    await run(pending?.cursor);
  } catch (error) {
    // The API no longer takes the stored cursor (e.g. its pagination tokens expired): redo this
    // run from its first page, with the same filters (upserts make the overlap harmless).
    if (
      pending === undefined ||
      progress.pages > 0 ||
      (error as { code?: unknown }).code !== 'ERR_BAD_REQUEST'
    ) {
      throw error;
    }
    store.dropCursor();
    page = [];
    await run(undefined);
  }

  store.finish(new Date(Date.parse(startedAt) - CLOCK_MARGIN_MS).toISOString());
  return { mode, filters, ...progress };
}
