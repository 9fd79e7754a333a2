/**
 * `npm run demo:sync`: mirrors the emulator's CERN identities into a SQLite file, changes one
 * identity at the emulator, then runs a delta sync that fetches only that one. SYNC_DB names the
 * file (default: a new temporary one).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createIdentityProvider } from 'express-cern-sso';
import { demoClient, startCernSsoEmulator } from 'express-cern-sso/testing';
import { openSyncStore } from './store.js';
import { syncIdentities, type SyncResult } from './sync.js';

function describe(result: SyncResult): string {
  const filter = result.filters.length === 0 ? 'no filter' : result.filters.join(' AND ');
  return `${result.mode} sync (${filter}): ${result.items} identities in ${result.pages} page(s)`;
}

async function main(): Promise<void> {
  const file = process.env.SYNC_DB ?? join(mkdtempSync(join(tmpdir(), 'cern-sync-')), 'identities.db');
  const emulator = await startCernSsoEmulator();
  const identity = createIdentityProvider({
    clientId: demoClient.clientId,
    clientSecret: demoClient.clientSecret,
    issuer: emulator.issuer,
    authzApiUrl: emulator.authzApiUrl,
  });
  const store = openSyncStore(file);
  try {
    console.log(`SQLite database: ${file}`);
    console.log(describe(await syncIdentities({ identity, store })));
    console.log(`  rows in the table: ${store.count()}`);

    // Someone edits jdoe's record at CERN: the Authorization Service stamps modificationTime.
    const jdoe = emulator.users.find((user) => user.login === 'jdoe');
    if (jdoe !== undefined) {
      jdoe.displayName = 'John Q. Doe';
      jdoe.modificationTime = new Date().toISOString();
    }
    console.log('Changed jdoe at the emulator (displayName, modificationTime).');
    console.log(describe(await syncIdentities({ identity, store })));
    console.log(`  jdoe in the table: ${JSON.stringify(store.get('jdoe')?.display_name)}`);
  } finally {
    store.close();
    await identity.close();
    await emulator.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
