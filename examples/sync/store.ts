/**
 * The SQLite side of the sync example: one table of identities, one of sync state. Every page is
 * written in one transaction together with the cursor that follows it, so after a crash the
 * stored cursor and the stored rows always agree.
 */
import Database from 'better-sqlite3';
import type { CernIdentity } from 'express-cern-sso';

/** What a run in progress left behind, to resume it after a crash. */
export interface PendingRun {
  filters: string[];
  startedAt: string;
  cursor: string;
}

export interface SyncStore {
  /** Start time (minus a margin) of the last complete run; `undefined` before the first one. */
  watermark(): string | undefined;
  /** The run a crash interrupted, if any. */
  pending(): PendingRun | undefined;
  /** Records the start of a run (its filters and start time), with no cursor yet. */
  begin(filters: readonly string[], startedAt: string): void;
  /** Upserts one page of identities and stores the cursor after it, atomically. */
  savePage(identities: readonly CernIdentity[], cursor: string | null): void;
  /** The run completed: the next one is a delta from `watermark`. */
  finish(watermark: string): void;
  /** Forgets the cursor of the run in progress (e.g. the API no longer accepts it). */
  dropCursor(): void;
  count(): number;
  get(login: string): Record<string, unknown> | undefined;
  close(): void;
}

export function openSyncStore(file: string): SyncStore {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS identities (
      login TEXT PRIMARY KEY,
      person_id INTEGER,
      display_name TEXT,
      first_name TEXT,
      last_name TEXT,
      email TEXT,
      affiliation TEXT,
      phone TEXT,
      synced_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `);
  const upsert = db.prepare(`
    INSERT INTO identities (login, person_id, display_name, first_name, last_name, email, affiliation, phone, synced_at)
    VALUES (@login, @personId, @displayName, @firstName, @lastName, @email, @affiliation, @phone, @syncedAt)
    ON CONFLICT (login) DO UPDATE SET
      person_id = excluded.person_id, display_name = excluded.display_name,
      first_name = excluded.first_name, last_name = excluded.last_name, email = excluded.email,
      affiliation = excluded.affiliation, phone = excluded.phone, synced_at = excluded.synced_at
  `);
  const getState = db.prepare<[string], { value: string }>('SELECT value FROM sync_state WHERE key = ?');
  const setState = db.prepare('INSERT OR REPLACE INTO sync_state (key, value) VALUES (?, ?)');
  const deleteState = db.prepare('DELETE FROM sync_state WHERE key = ?');
  const read = (key: string): string | undefined => getState.get(key)?.value;

  const savePage = db.transaction((identities: readonly CernIdentity[], cursor: string | null) => {
    const syncedAt = new Date().toISOString();
    for (const user of identities) {
      upsert.run({
        login: user.login,
        personId: user.personId ?? null,
        displayName: user.displayName ?? null,
        firstName: user.firstName ?? null,
        lastName: user.lastName ?? null,
        email: user.email ?? null,
        affiliation: user.affiliation ?? null,
        phone: user.phone ?? null,
        syncedAt,
      });
    }
    // The last page has no cursor: keep the run "pending" until finish() moves the watermark.
    if (cursor === null) deleteState.run('cursor');
    else setState.run('cursor', cursor);
  });
  const begin = db.transaction((filters: readonly string[], startedAt: string) => {
    setState.run('run_filters', JSON.stringify(filters));
    setState.run('run_started', startedAt);
    deleteState.run('cursor');
  });
  const finish = db.transaction((watermark: string) => {
    setState.run('watermark', watermark);
    for (const key of ['run_filters', 'run_started', 'cursor']) deleteState.run(key);
  });

  return {
    watermark: () => read('watermark'),
    pending() {
      const cursor = read('cursor');
      const filters = read('run_filters');
      const startedAt = read('run_started');
      if (cursor === undefined || filters === undefined || startedAt === undefined) return undefined;
      return { cursor, startedAt, filters: JSON.parse(filters) as string[] };
    },
    begin: (filters, startedAt) => {
      begin(filters, startedAt);
    },
    savePage: (identities, cursor) => {
      savePage(identities, cursor);
    },
    finish: (watermark) => {
      finish(watermark);
    },
    dropCursor: () => void deleteState.run('cursor'),
    count: () => (db.prepare('SELECT count(*) AS n FROM identities').get() as { n: number }).n,
    get: (login) =>
      db.prepare('SELECT * FROM identities WHERE login = ?').get(login) as
        Record<string, unknown> | undefined,
    close: () => db.close(),
  };
}
