/**
 * Issue #14: what `bearerAuth()` costs an API route, against a bare route and against
 * express-oauth2-jwt-bearer, all loaded with the same valid access token.
 *
 * A (baseline): a bare Express 5 JSON route (no authentication; the same header is sent).
 * B (target):   A + `bearerAuth({ issuer, audience })`, the library's defaults (verified-token cache).
 * C:            B with `verifiedTokenCacheMax: 0`: every request verifies the RS256 signature.
 * D (peer):     A + express-oauth2-jwt-bearer's `auth({ issuerBaseURL, audience })`.
 * A2 (control):  A again, in its own process: A2/A is the noise of the method itself.
 * N (floor):     A + a middleware that only sets `req.sso`.
 * Targets: B/A ≥ 0.95, B/D ≥ 1.5, C/D ≥ 1.3 (throughput; CPU per request as the cross-check).
 * The emulator (the token issuer) runs here, in the parent: each library fetches its discovery
 * and JWKS once and caches them, so it takes no part in the load. Servers in child processes,
 * autocannon here, paired rounds (bench/lib/paired.ts).
 * With `BENCH_COMPARE_DIST=<dir>/dist` a further side E runs B on that other build of the package.
 */
import { basename, dirname, join, resolve } from 'node:path';
import { startCernSsoEmulator, type CernSsoEmulator } from '../../src/testing/index.js';
import { forkChild, type BenchChild } from '../lib/child.js';
import {
  cpuRatio,
  quick,
  runPairedRounds,
  sideCells,
  throughputRatio,
  type LoadTarget,
} from '../lib/paired.js';
import { PAIRED_ROUNDS, pairedRoundsNote } from '../lib/rounds.js';
import { libraryTable, ownerTable, profileSides, type ProfiledSide } from '../lib/side-profile.js';
import { fixed } from '../lib/stats.js';
import type { Suite, SuiteResult, Verdict } from '../lib/types.js';
import type { BearerAppReady, BearerVariant } from '../children/bearer-app.js';

const CONNECTIONS = PAIRED_ROUNDS.connections;
const PROFILE_SEC = quick ? 1 : 2;
const PROFILE_INTERVAL_US = 250;
const TARGET_BARE = 0.95;
const TARGET_PEER = 1.5;
const TARGET_PEER_NO_CACHE = 1.3;

const AUDIENCE = 'bench-api';
const LOGIN = 'jdoe';
/** What a Keycloak access token of a signed-in CERN user carries besides the emulator's claims. */
const KEYCLOAK_CLAIMS = {
  auth_time: Math.floor(Date.now() / 1000) - 60,
  session_state: 'c1b2a3d4-0e1f-4a5b-9c8d-7e6f5a4b3c2d',
  sid: 'c1b2a3d4-0e1f-4a5b-9c8d-7e6f5a4b3c2d',
  acr: '1',
  'allowed-origins': ['https://bench-app.web.cern.ch'],
  realm_access: { roles: ['offline_access', 'uma_authorization', 'default-roles-cern'] },
  email_verified: true,
};

type Key = 'A' | 'A2' | 'N' | 'B' | 'C' | 'D' | 'E';

interface Side extends ProfiledSide<BearerAppReady & LoadTarget> {
  key: Key;
}

/**
 * What B/A is made of in this run: B/A = N/A × B/N (being a middleware at all, then
 * `bearerAuth()`'s own work), next to A2/A, the precision of the method.
 */
function gapNote(A: Side, A2: Side, N: Side, B: Side): string {
  const r = (top: Side, bottom: Side): string => fixed(throughputRatio(top, bottom, '').ratio, 3);
  const c = (top: Side, bottom: Side): string => fixed(cpuRatio(top, bottom, '').ratio, 3);
  return (
    `B/A, read: it is N/A × B/N. A middleware that does nothing costs the route N/A = ${r(N, A)} ` +
    `(CPU ${c(N, A)}); bearerAuth()'s own work on top, B/N = ${r(B, N)} (CPU ${c(B, N)}): the RFC 6750 ` +
    'header checks (exactly one Authorization header, no token in the URL or body), the cache lookup ' +
    '(the last token of a keep-alive connection compared exactly, else its SHA-256 in the LRU) and ' +
    `building req.sso. Two identical servers differ by A2/A = ${r(A2, A)} (CPU ${c(A2, A)}) in the same ` +
    'run: no figure here is more precise than that.'
  );
}

/** Proves the route answers 200 with the token's `sub` (a 401 never counts as an answer). */
async function checkRoute(side: Side): Promise<void> {
  const response = await fetch(side.child.data.url, {
    headers: { accept: 'application/json', ...side.child.data.headers },
    redirect: 'manual',
    signal: AbortSignal.timeout(5000),
  });
  const body = await response.text();
  if (response.status !== 200 || body !== JSON.stringify({ sub: LOGIN })) {
    throw new Error(
      `${side.label}: expected 200 {"sub":"${LOGIN}"}, got ${response.status} ${body.slice(0, 200)}`,
    );
  }
}

async function run(): Promise<SuiteResult> {
  const children: BenchChild<BearerAppReady>[] = [];
  let emulator: CernSsoEmulator | undefined;
  try {
    emulator = await startCernSsoEmulator();
    // Valid for the whole run (an expired token would be a 401, which fails the load).
    const token = await emulator.issueAccessToken(LOGIN, {
      audience: AUDIENCE,
      expiresInSec: 3600,
      claims: KEYCLOAK_CLAIMS,
    });
    const headers = { authorization: `Bearer ${token}` };
    const env = { BENCH_ISSUER: emulator.issuer, BENCH_AUDIENCE: AUDIENCE, BENCH_SUB: LOGIN };
    const side = async (
      key: Key,
      label: string,
      variant: BearerVariant,
      extraEnv: Record<string, string> = {},
    ): Promise<Side> => {
      const child = await forkChild<BearerAppReady>('children/bearer-app.ts', [variant], {
        env: { ...env, ...extraEnv },
      });
      children.push(child);
      const withHeaders = child as BenchChild<BearerAppReady & LoadTarget>;
      Object.assign(withHeaders.data, { headers });
      return { key, label, child: withHeaders, samples: [] };
    };
    const A = await side('A', 'A baseline: bare Express route (same header, no auth)', 'bare');
    const B = await side('B', 'B = A + bearerAuth() (defaults: verified-token cache)', 'bearer');
    const C = await side(
      'C',
      'C = B with verifiedTokenCacheMax: 0 (verifies every request)',
      'bearer-nocache',
    );
    const D = await side('D', 'D = A + express-oauth2-jwt-bearer auth()', 'oauth2-jwt-bearer');
    const N = await side(
      'N',
      'N = A + a middleware that only sets req.sso and calls next() (diagnostic: the floor)',
      'noop',
    );
    const A2 = await side(
      'A2',
      'A2 = A in another process (control: how far two identical servers differ)',
      'bare',
    );
    const list = [A, A2, N, B, C, D];
    const compareDist = process.env.BENCH_COMPARE_DIST;
    const E =
      compareDist === undefined
        ? undefined
        : await side(
            'E',
            `E = B on ${process.env.BENCH_COMPARE_LABEL ?? `the build in ${basename(dirname(compareDist))}/`} (comparison)`,
            'bearer',
            { BENCH_LIBRARY: join(resolve(compareDist), 'index.js') },
          );
    if (E) list.push(E);
    // Also fetches each library's discovery and JWKS, before anything is measured.
    for (const each of list) await checkRoute(each);

    await runPairedRounds(list, PAIRED_ROUNDS);
    await profileSides(list, {
      suite: 'bearer',
      seconds: PROFILE_SEC,
      intervalUs: PROFILE_INTERVAL_US,
      connections: CONNECTIONS,
    });
    for (const each of list) await checkRoute(each);

    const pair = (top: Side, bottom: Side, what: string, target: number): Verdict[] => [
      throughputRatio(top, bottom, `throughput ${top.key}/${bottom.key}: ${what}`, target),
      cpuRatio(top, bottom, `CPU per request ${bottom.key}/${top.key} (cross-check)`, target),
    ];
    const verdicts: Verdict[] = [
      ...pair(B, A, 'bearerAuth() with a cached token against a bare route', TARGET_BARE),
      ...pair(B, D, 'bearerAuth() against express-oauth2-jwt-bearer', TARGET_PEER),
      ...pair(
        C,
        D,
        'bearerAuth() without the token cache against express-oauth2-jwt-bearer',
        TARGET_PEER_NO_CACHE,
      ),
      throughputRatio(
        A2,
        A,
        'throughput A2/A: two identical bare servers (the noise of the method; ideally 1)',
      ),
      cpuRatio(A2, A, 'CPU per request A/A2: two identical bare servers'),
      throughputRatio(N, A, 'throughput N/A: any middleware at all (the floor under B/A)'),
      cpuRatio(N, A, 'CPU per request A/N: any middleware at all'),
      throughputRatio(B, N, "throughput B/N: bearerAuth()'s own cost, beyond being a middleware"),
      cpuRatio(B, N, 'CPU per request N/B'),
      throughputRatio(C, A, 'throughput C/A: verifying every request against a bare route'),
      throughputRatio(D, A, 'throughput D/A: express-oauth2-jwt-bearer against a bare route'),
      ...(E === undefined
        ? []
        : [
            throughputRatio(B, E, 'throughput B/E: this build against the comparison build'),
            cpuRatio(B, E, 'CPU per request E/B (this build against the comparison build)'),
          ]),
    ];
    const targets: Partial<Record<Key, string>> = {
      B: `B/A ≥ ${fixed(TARGET_BARE, 2)}, B/D ≥ ${fixed(TARGET_PEER, 2)}`,
      C: `C/D ≥ ${fixed(TARGET_PEER_NO_CACHE, 2)}`,
    };
    const row = (each: Side): string[] => {
      const cells = sideCells(each);
      return [
        each.label,
        cells.reqPerSec,
        cells.p50,
        cells.p99,
        cells.cpuUs,
        each === A ? '1.000' : fixed(throughputRatio(each, A, '').ratio, 3),
        targets[each.key] ?? '',
        cells.perRound,
      ];
    };

    return {
      summary:
        '`GET /api/data` answering `{"sub":"jdoe"}` (JSON), every request with the same ' +
        `\`Authorization: Bearer\` header: an RS256 access token of the emulator (${token.length} characters, ` +
        'claims of a Keycloak access token). A = bare Express 5 route; B = A + `bearerAuth()` (defaults, ' +
        'verified-token cache); C = B without the cache (`verifiedTokenCacheMax: 0`); D = A + ' +
        "express-oauth2-jwt-bearer's `auth()`. Servers in child processes, autocannon in the parent.",
      settings: {
        connections: CONNECTIONS,
        ...pairedRoundsNote(),
      },
      table: {
        headers: [
          'variant',
          'req/s (median)',
          'p50 ms',
          'p99 ms',
          'CPU µs/req',
          'req/s ratio vs A',
          'targets',
          'req/s per round',
        ],
        rows: list.map(row),
      },
      verdicts,
      extraTables: [
        { title: 'Where the CPU goes (µs per request, by owner)', table: ownerTable(list) },
        { title: 'Library functions (cached token)', table: libraryTable(B) },
        { title: 'Library functions (no cache: every request verified)', table: libraryTable(C) },
      ],
      notes: [
        gapNote(A, A2, N, B),
        'Both libraries trust the same issuer (the emulator, started in the parent) and verify the same ' +
          'token against the same JWKS, fetched once and cached by each; the routes are checked to answer ' +
          "200 with the token's `sub` before and after the load, and any non-2xx answer fails the suite.",
        'Configurations: `bearerAuth({ issuer, audience })` and `auth({ issuerBaseURL, audience })`, each ' +
          "library's recommended setup. What each checks per request differs: express-oauth2-jwt-bearer " +
          '(non-strict, its default) checks the signature (RS256 and the other asymmetric algorithms), `iss`, ' +
          '`aud`, `exp` (5 s tolerance) and that `iat` is a number if present, and also reads the token from ' +
          'the query and a urlencoded body (DPoP support, on by default, only acts on DPoP tokens or headers); ' +
          '`bearerAuth()` checks the signature, `iss`, `aud`, `exp` (required) and `nbf` (30 s tolerance), ' +
          "the token type (header `typ` and Keycloak's `typ` claim: ID, refresh and logout tokens are " +
          'refused), a strict RFC 6750 header (one `Authorization` header, b64token syntax, size bound, ' +
          'tokens in the URL or body refused), and builds `req.sso` (user, claims, guards). ' +
          'express-oauth2-jwt-bearer has no verified-token cache: it verifies the signature on every ' +
          'request, hence C/D is the like-for-like comparison and B/D what the cache adds.',
        'CPU µs/req = CPU time of the server process (user + system, all threads, `process.cpuUsage()`) ' +
          'during a sample divided by the requests it answered; median over the rounds. CPU by owner: each ' +
          `side's CPU µs/req split by the shares of one extra ${PROFILE_SEC} s sample under the V8 sampling ` +
          `profiler (${PROFILE_INTERVAL_US} µs); steps under ~5 µs are within noise.`,
      ],
    };
  } finally {
    await Promise.all(children.map((child) => child.stop()));
    await emulator?.close();
  }
}

const suite: Suite = { name: 'bearer', run };
export default suite;
