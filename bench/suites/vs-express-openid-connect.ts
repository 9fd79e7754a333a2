/**
 * Issue #14: this library against express-openid-connect (Auth0's OIDC middleware for Express),
 * each in its documented default configuration, signing in through the same OP.
 *
 * L: express-session (MemoryStore) + `cernSso()`, route behind `requireAuth()`.
 * E: express-openid-connect `auth({ authRequired: false, ... })`, its default encrypted-cookie
 *    session, route behind `requiresAuth()`.
 * S: E with a server-side session store (express-session's MemoryStore through its
 *    `session.store`): the cookie holds only an id, as with L (for fairness).
 * The OP is the CERN SSO emulator in a child process of its own; every app in its own child,
 * the load (autocannon, login loops) here.
 *
 * Part 1, a signed-in `GET /me` (JSON with the user's login): paired, interleaved autocannon rounds
 * (bench/lib/paired.ts); throughput and the app's CPU time per request.
 * Part 2, full logins (`/login` → OP authorize → callback → signed-in page, a fresh browser each
 * time): several login loops for a fixed time per sample, in interleaved rounds; logins per second
 * and the app's CPU time per login (the OP's is shared by all sides, reported apart).
 */
import { forkChild, type BenchChild } from '../lib/child.js';
import { loginSample } from '../lib/login-loops.js';
import {
  cpuPerRequest,
  cpuRatio,
  quick,
  roundOrder,
  runPairedRounds,
  sideCells,
  throughputRatio,
  type PairedSide,
  type Sample,
} from '../lib/paired.js';
import { PAIRED_ROUNDS, pairedRoundsNote } from '../lib/rounds.js';
import { fixed, median } from '../lib/stats.js';
import type { Suite, SuiteResult, Verdict } from '../lib/types.js';
import type { OidcAppReady, OidcAppVariant } from '../children/oidc-app.js';
import type { SsoOpReady } from '../children/sso-op.js';

const { connections: CONNECTIONS, warmupSec: WARMUP_SEC, sampleSec: SAMPLE_SEC } = PAIRED_ROUNDS;
const LOGIN_LOOPS = 8;
const LOGIN_WARMUP_SEC = quick ? 1 : 2;
const LOGIN_SAMPLE_SEC = quick ? 1 : 3;
const LOGIN_ROUNDS = quick ? 2 : 6;
/** Children outlive no run: the whole suite takes about 2.5 min. */
const CHILD_LIFETIME_MS = 420_000;
const LOGIN = 'jdoe';
const EXPECTED_BODY = `{"login":"${LOGIN}"}`;

type Key = 'L' | 'E' | 'S';

interface Side extends PairedSide<OidcAppReady> {
  key: Key;
}

interface LoginSide extends Side {
  /** The OP's CPU µs per login, for each sample. */
  opCpuUs: number[];
  /** This process's (the browsers') CPU µs per login, for each sample. */
  clientCpuUs: number[];
}

const VARIANTS: Record<Key, { variant: OidcAppVariant; clientId: string; label: string }> = {
  L: {
    variant: 'cern-sso',
    clientId: 'bench-cern-sso',
    label: 'L express-cern-sso (express-session MemoryStore)',
  },
  E: { variant: 'eoc', clientId: 'bench-eoc', label: 'E express-openid-connect (cookie session, default)' },
  S: {
    variant: 'eoc-store',
    clientId: 'bench-eoc-store',
    label: 'S express-openid-connect + server-side store (MemoryStore)',
  },
};
const secretOf = (clientId: string): string => `${clientId}-secret`;

/** Proves `/me` answers 200 with the signed-in user (not a redirect to the login or a 401). */
async function checkRoute(side: Side): Promise<void> {
  const { url, cookie } = side.child.data;
  const response = await fetch(url, {
    headers: { cookie, accept: 'application/json' },
    redirect: 'manual',
    signal: AbortSignal.timeout(5000),
  });
  const body = await response.text();
  if (response.status !== 200 || body !== EXPECTED_BODY) {
    throw new Error(
      `${side.label}: expected 200 ${EXPECTED_BODY}, got ${response.status} ${body.slice(0, 200)}`,
    );
  }
}

/** Warm-up, then login rounds in the same rotating order as the paired throughput rounds. */
async function runLoginRounds(sides: readonly LoginSide[], op: BenchChild<SsoOpReady>): Promise<void> {
  const sample = async (side: LoginSide, durationSec: number): Promise<Sample> => {
    const client = process.cpuUsage();
    const result = await loginSample(side, op, {
      expectedBody: EXPECTED_BODY,
      loops: LOGIN_LOOPS,
      durationSec,
    });
    const used = process.cpuUsage(client);
    side.opCpuUs.push(result.sharedCpuUs);
    side.clientCpuUs.push((used.user + used.system) / result.requests);
    return result;
  };
  for (const side of sides) await sample(side, LOGIN_WARMUP_SEC);
  for (const side of sides) {
    side.opCpuUs.length = 0;
    side.clientCpuUs.length = 0;
  }
  for (let round = 0; round < LOGIN_ROUNDS; round++) {
    for (const index of roundOrder(round, sides.length)) {
      const side = sides[index]!;
      side.samples.push(await sample(side, LOGIN_SAMPLE_SEC));
    }
  }
}

async function run(): Promise<SuiteResult> {
  const children: BenchChild<unknown>[] = [];
  try {
    const keys: Key[] = ['L', 'E', 'S'];
    const op = await forkChild<SsoOpReady>('children/sso-op.ts', [], {
      lifetimeMs: CHILD_LIFETIME_MS,
      env: {
        BENCH_OP_LOGIN: LOGIN,
        BENCH_OP_CLIENTS: JSON.stringify(
          keys.map((key) => ({
            clientId: VARIANTS[key].clientId,
            clientSecret: secretOf(VARIANTS[key].clientId),
          })),
        ),
      },
    });
    children.push(op);
    const sides: Side[] = [];
    for (const key of keys) {
      const { variant, clientId, label } = VARIANTS[key];
      const child = await forkChild<OidcAppReady>('children/oidc-app.ts', [variant], {
        lifetimeMs: CHILD_LIFETIME_MS,
        env: {
          BENCH_ISSUER: op.data.issuer,
          BENCH_AUTHZ_API_URL: op.data.authzApiUrl,
          BENCH_CLIENT_ID: clientId,
          BENCH_CLIENT_SECRET: secretOf(clientId),
        },
      });
      children.push(child);
      sides.push({ key, label, child, samples: [] });
    }
    const [L, E, S] = sides as [Side, Side, Side];

    // Part 1: the signed-in route.
    for (const side of sides) await checkRoute(side);
    await runPairedRounds(sides, PAIRED_ROUNDS);
    for (const side of sides) await checkRoute(side);

    // Part 2: full logins, on the same apps and OP.
    const loginSides: LoginSide[] = sides.map((side) => ({
      ...side,
      samples: [],
      opCpuUs: [],
      clientCpuUs: [],
    }));
    await runLoginRounds(loginSides, op);
    const [L2, E2, S2] = loginSides as [LoginSide, LoginSide, LoginSide];
    // The first session is still signed in after thousands of other logins.
    for (const side of sides) await checkRoute(side);

    const verdicts: Verdict[] = [
      throughputRatio(L, E, 'signed-in route: throughput L/E'),
      cpuRatio(L, E, 'signed-in route: CPU per request E/L'),
      throughputRatio(L, S, 'signed-in route: throughput L/S (S: theirs on a server-side store)'),
      cpuRatio(L, S, 'signed-in route: CPU per request S/L'),
      throughputRatio(L2, E2, 'full login: logins per second L/E (the shared OP bounds both)'),
      cpuRatio(L2, E2, 'full login: app CPU per login E/L'),
      throughputRatio(L2, S2, 'full login: logins per second L/S'),
      cpuRatio(L2, S2, 'full login: app CPU per login S/L'),
    ];
    const routeRow = (side: Side): string[] => {
      const cells = sideCells(side);
      return [
        side.label,
        `${side.child.data.cookieBytes} B (${side.child.data.cookieNames.join(', ')})`,
        cells.reqPerSec,
        cells.p50,
        cells.p99,
        cells.cpuUs,
        side === L ? '1.000' : fixed(throughputRatio(L, side, '').ratio, 3),
        cells.perRound,
      ];
    };
    const loginRow = (side: LoginSide): string[] => [
      side.label,
      fixed(median(side.samples.map((s) => s.reqPerSec)), 1),
      fixed(median(side.samples.map((s) => s.p50)), 1),
      fixed(median(side.samples.map((s) => s.p99)), 1),
      fixed(cpuPerRequest(side)),
      fixed(median(side.opCpuUs)),
      fixed(median(side.clientCpuUs)),
      String(side.samples.reduce((sum, s) => sum + s.requests, 0)),
      side === L2 ? '1.000' : fixed(throughputRatio(L2, side, '').ratio, 3),
      side.samples.map((s) => fixed(s.reqPerSec, 1)).join(' / '),
    ];

    const routeRounds = pairedRoundsNote();
    return {
      summary:
        'This library against express-openid-connect 3.x, each in its documented default configuration, ' +
        'both signing in through the same OP (the CERN SSO emulator, `jdoe` logged in without a form). ' +
        "Part 1: a signed-in `GET /me` answering the user's login as JSON (L: `requireAuth()`, E/S: " +
        '`requiresAuth()`). Part 2: full logins (`/login` → OP → callback → signed-in page, a fresh browser ' +
        'each time). Apps and the OP in child processes, the load here.',
      settings: {
        'route: connections': CONNECTIONS,
        'route: warm-up per side': `${WARMUP_SEC} s`,
        'route: sample duration': `${SAMPLE_SEC} s`,
        'route: rounds': routeRounds.rounds,
        'route: scheduling': routeRounds.scheduling,
        'login: scheduling': 'one side at a time (the OP is shared), not pinned',
        'login: concurrent login loops': LOGIN_LOOPS,
        'login: warm-up per side': `${LOGIN_WARMUP_SEC} s`,
        'login: sample duration': `${LOGIN_SAMPLE_SEC} s`,
        'login: rounds': `${LOGIN_ROUNDS}, rotating order`,
        ratio: 'median of per-round ratios (min–max in brackets)',
      },
      table: {
        headers: [
          'signed-in GET /me',
          'Cookie header',
          'req/s (median)',
          'p50 ms',
          'p99 ms',
          'app CPU µs/req',
          'req/s ratio L/side',
          'req/s per round',
        ],
        rows: sides.map(routeRow),
      },
      extraTables: [
        {
          title: `Full logins (${LOGIN_LOOPS} browsers at a time)`,
          table: {
            headers: [
              'login',
              'logins/s (median)',
              'p50 ms',
              'p99 ms',
              'app CPU µs/login',
              'OP CPU µs/login',
              'browsers (bench process) CPU µs/login',
              'logins counted',
              'logins/s ratio L/side',
              'logins/s per round',
            ],
            rows: loginSides.map(loginRow),
          },
        },
      ],
      verdicts,
      notes: [
        'No targets: the issue asks for the ratios. L = express-session (MemoryStore, `resave: false`, ' +
          "`saveUninitialized: false`) + `cernSso()` + `requireAuth()`, as in the README's quick start. " +
          'E = express-openid-connect `auth({ authRequired: false, issuerBaseURL, baseURL, clientID, ' +
          'clientSecret, secret, authorizationParams: { response_type: "code" } })` + `requiresAuth()`: its ' +
          'default flow is the implicit `id_token` with form_post, which the CERN SSO (and the emulator) do ' +
          'not allow, so both sides use the code flow with PKCE and a client secret. S = E with ' +
          "`session: { store: new MemoryStore() }` (express-session's).",
        'Per signed-in request, L: express-session parses the cookie, checks its HMAC signature and reads the ' +
          'session from the MemoryStore (JSON.parse of a small session: a pointer to the sign-in record); ' +
          '`cernSso()` takes the sign-in record (tokens and claims) from its bounded in-process cache of parsed ' +
          'records (the store is read only on a miss) and looks for a back-channel logout marker in the store at ' +
          'most once a second per sign-in; the response sets no cookie. ' +
          'E: the session is the cookie itself, a JWE (`dir` + A256GCM) of the ID, access and refresh tokens ' +
          '(see "Cookie header": split into several cookies above 4 kB): every request decrypts it, `req.oidc.user` decodes and deep-clones the ID token claims, and ' +
          'every response re-encrypts the session and sends it back in `Set-Cookie` (its sessions are rolling ' +
          "by default). S: reads the session from the store by the cookie's id and writes it back to the store " +
          '(and sets the cookie) on every response, rolling too.',
        'Per login, both: a transaction cookie (state, nonce, PKCE verifier) on `/login`, the code exchange at ' +
          "the OP's token endpoint (client secret), the ID token's RS256 signature checked against the cached " +
          'JWKS, a new session. L also creates the session in the store with a new id (session fixation) and ' +
          'its sign-in record; E encrypts the tokens into the cookie. The OP (authorize, autoLogin, three signed ' +
          'tokens per login) does the same work for every side and bounds the logins per second on a small ' +
          'machine, so the app CPU per login is the better comparison of the libraries.',
        'The OP runs in a child process of its own rather than in the bench process: during the login samples ' +
          'it is the busiest process (see "OP CPU µs/login"), and in the bench process it would compete with ' +
          'the browsers (fetch) for one event loop. Every counted login ended on the signed-in page with ' +
          `200 ${EXPECTED_BODY}; any other end fails the suite. The signed-in route is checked (200 and the user) ` +
          'before and after the load, and after the login rounds.',
        'CPU µs = CPU time (user + system, all threads, `process.cpuUsage()`) of the process during a ' +
          'sample divided by the requests (logins) it answered; median over the rounds.',
      ],
    };
  } finally {
    await Promise.all(children.map((child) => child.stop()));
  }
}

const suite: Suite = { name: 'vs-express-openid-connect', run };
export default suite;
