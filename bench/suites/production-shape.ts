/**
 * Issue #14, "production shape": a signed-in `requireGroup` route with a warm cache when every
 * instance keeps its sessions in connect-redis and the library's cache in `redisCache()` on one
 * real Redis (a private redis-server on a unix socket, started here). The load rotates over many
 * signed-in users (each request for another user than the previous few), as in production, where
 * concurrent requests rarely share a cache key or a sign-in.
 *
 * A: express-session + connect-redis + route ("connect-redis alone", the baseline).
 * B: A + `cernSso({ cache: redisCache(client) })` + `requireGroup('it-dep')` (today's shape).
 * C: B whose cache client uses node-redis server-assisted client-side caching (RESP3).
 * D: B with `redisCache(client, { localCache: true })` (process-local layer, pub/sub invalidation).
 * Targets: D/A throughput ≥ 0.90 and CPU per request A/D ≥ 0.90.
 *
 * Freshness, in the same run: two instances of D (then of B) share one Redis and one session;
 * a back-channel logout received by instance 1 must be seen by instance 2 within 1 s (target, D),
 * and a changed e-group once its cached entry's freshness (`groupsTtlMs`) runs out.
 *
 * The emulator runs here, in the parent (one issuer for every instance, so one session cookie
 * works on two instances); it is idle while autocannon loads a side (warm cache).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createClient } from 'redis';
import {
  seedGroups,
  seedUsers,
  startCernSsoEmulator,
  type CernSsoEmulator,
} from '../../src/testing/index.js';
import type { RedisAppReady, RedisVariant } from '../children/redis-app.js';
import { forkChild, type BenchChild } from '../lib/child.js';
import { groupChangeDelay, logoutDelay, POLL_MS } from '../lib/freshness.js';
import { browserLogin } from '../lib/login.js';
import {
  cpuRatio,
  loadSide,
  quick,
  runPairedRounds,
  sideCells,
  throughputRatio,
  type PairedSide,
} from '../lib/paired.js';
import { PAIRED_ROUNDS, pairedRoundsNote } from '../lib/rounds.js';
import { startRedis } from '../../test/helpers/redis.js';
import { fixed, median } from '../lib/stats.js';
import type { Suite, SuiteResult, Table, Verdict } from '../lib/types.js';

const CONNECTIONS = PAIRED_ROUNDS.connections;
const TARGET = 0.9;
const LOGOUT_BOUND_MS = 1000;
const LOGOUT_RUNS = quick ? 2 : 5;
/** `groupsTtlMs` of the freshness instances (the default is 30 min). */
const FRESH_GROUPS_TTL_MS = 2000;
const LOGIN = 'jdoe';
const ROUTE = '/api/data';
/** E-groups of jdoe besides the seed's: a realistic CERN staff member (as in `require-group`). */
const EXTRA_GROUPS = 300;
/** Signed-in users the load rotates over (seed staff `user0001`…), each in the same e-groups as jdoe. */
const USERS = quick ? 100 : 200;
/** Logins through the emulator at a time while signing the users in. */
const LOGIN_CONCURRENCY = 4;

type Key = 'A' | 'B' | 'C' | 'D';
/** `cookie`: jdoe's session; `cookies`: one session per user of {@link USERS}, in `logins` order. */
type Side = PairedSide<RedisAppReady & { cookie: string; cookies: string[]; logins: string[] }> & {
  key: Key;
};
type Instance = BenchChild<RedisAppReady>;

const VARIANT: Record<Key, RedisVariant> = { A: 'baseline', B: 'sso', C: 'sso-csc', D: 'sso-local' };
const LABEL: Record<Key, string> = {
  A: 'A baseline: express-session + connect-redis + route',
  B: "B = A + cernSso({ cache: redisCache(client) }) + requireGroup('it-dep')",
  C: 'C = B, cache client with RESP3 client-side caching',
  D: 'D = B with redisCache(client, { localCache: true })',
};

/** Runs `task` on every item, `concurrency` at a time. */
async function eachLimited<T>(items: readonly T[], concurrency: number, task: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Proves the route answers 200 JSON for `login` signed in by `cookie` (not a redirect, 401 or 403). */
async function checkUser(side: Side, login: string, cookie: string): Promise<void> {
  const response = await fetch(side.child.data.url, {
    headers: { cookie, accept: 'application/json' },
    redirect: 'manual',
    signal: AbortSignal.timeout(5000),
  });
  const body = await response.text();
  if (response.status !== 200 || body !== JSON.stringify({ login })) {
    throw new Error(
      `${side.label}: expected 200 {"login":"${login}"}, got ${response.status} ${body.slice(0, 200)}`,
    );
  }
}

/** The route answers 200 for jdoe and for every user of the rotation. */
async function checkRoute(side: Side): Promise<void> {
  const { cookie, cookies, logins } = side.child.data;
  await checkUser(side, LOGIN, cookie);
  await eachLimited(
    logins.map((login, i) => [login, cookies[i]!] as const),
    LOGIN_CONCURRENCY,
    ([login, each]) => checkUser(side, login, each),
  );
}

/** The same side loaded with jdoe's session alone (no rotation). */
function oneUser(side: Side): Side {
  return { ...side, child: { ...side.child, data: { ...side.child.data, cookies: [], logins: [] } } };
}

/** The Redis commands each side sends per request, from `INFO commandstats` around one sample. */
async function commandsPerRequest(socket: string, sides: readonly Side[]): Promise<Table> {
  const admin = createClient({ socket: { path: socket, tls: false } });
  admin.on('error', () => undefined);
  await admin.connect();
  const names = new Set<string>();
  const perSide = new Map<Key, Map<string, number>>();
  try {
    for (const side of sides) {
      await admin.configResetStat();
      const sample = await loadSide(side, 1, CONNECTIONS);
      const stats = new Map<string, number>();
      for (const line of (await admin.info('commandstats')).split('\n')) {
        const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line.trim());
        if (match?.[1] === undefined || match[1] === 'info' || match[1] === 'config|resetstat') continue;
        stats.set(match[1], Number(match[2]) / sample.requests);
        names.add(match[1]);
      }
      perSide.set(side.key, stats);
    }
  } finally {
    admin.destroy();
  }
  const rows = [...names]
    .sort()
    .map((name) => [name, ...sides.map((side) => fixed(perSide.get(side.key)?.get(name) ?? 0, 3))]);
  rows.push([
    '**total**',
    ...sides.map((side) =>
      fixed(
        [...(perSide.get(side.key)?.values() ?? [])].reduce((a, b) => a + b, 0),
        3,
      ),
    ),
  ]);
  return { headers: ['Redis command (per request)', ...sides.map((side) => side.key)], rows };
}

interface Freshness {
  logoutMs: number[];
  group: { first: number; second: number };
}

async function run(): Promise<SuiteResult> {
  const redis = await startRedis();
  const children: Instance[] = [];
  let emulator: CernSsoEmulator | undefined;
  try {
    const users = seedUsers
      .map((user) => user.login)
      .filter((login) => /^user\d+$/.test(login))
      .slice(0, USERS);
    if (users.length < USERS) throw new Error(`the emulator's seed has only ${users.length} staff users`);
    const extraGroups = Array.from({ length: EXTRA_GROUPS }, (_, i) => ({
      id: `bench-group-${String(i).padStart(3, '0')}`,
      members: [LOGIN, ...users],
    }));
    // The users are direct members of it-dep (the guarded group) and of jdoe's 300 e-groups.
    const groups = seedGroups.map((group) =>
      group.id === 'it-dep' ? { ...group, members: [...(group.members ?? []), ...users] } : group,
    );
    emulator = await startCernSsoEmulator({ groups: [...groups, ...extraGroups] });
    const started = emulator;
    const start = async (variant: RedisVariant, env: Record<string, string>): Promise<Instance> => {
      const child = await forkChild<RedisAppReady>('children/redis-app.ts', [variant], {
        env: {
          BENCH_REDIS_SOCKET: redis.socket,
          BENCH_ISSUER: started.issuer,
          BENCH_AUTHZ_URL: started.authzApiUrl,
          ...env,
        },
      });
      children.push(child);
      return child;
    };
    /** One client for `instances` (their callbacks), back-channel logouts to the first one. */
    const register = (clientId: string, instances: readonly Instance[], backchannel?: Instance) => {
      started.registerClient({
        clientId,
        clientSecret: 'bench-app-secret',
        redirectUris: instances.map((each) => `${each.data.baseUrl}/oidc/callback`),
        roles: { [LOGIN]: ['user'] },
        ...(backchannel
          ? { backchannelLogoutUri: `${backchannel.data.baseUrl}/oidc/backchannel-logout` }
          : {}),
      });
    };

    // Throughput: one instance per side, each with its own key prefix (as separate apps would).
    const keys: Key[] = ['A', 'B', 'C', 'D'];
    const instances = new Map<Key, Instance>();
    /** Why D could not start: a build of the library without `redisCache({ localCache })`. */
    let missingD: string | undefined;
    for (const key of keys) {
      const env = { BENCH_CLIENT_ID: 'bench-app', BENCH_PREFIX: `${key.toLowerCase()}:` };
      try {
        instances.set(key, await start(VARIANT[key], env));
      } catch (error) {
        if (key !== 'D' || !String(error).includes('localCache')) throw error;
        missingD = 'this build of the library has no `redisCache(client, { localCache })`';
      }
    }
    const active = keys.filter((key) => instances.has(key));
    register('bench-app', [...instances.values()]);
    const sides: Side[] = [];
    for (const key of active) {
      const child = instances.get(key)!;
      // One real sign-in per user and side (A: its helper route; B-D: a login through the emulator).
      const signIn = (login: string): Promise<string> =>
        key === 'A'
          ? baselineCookie(child, login)
          : started.login({ baseUrl: child.data.baseUrl, login, returnTo: ROUTE }).then((r) => r.cookie);
      const cookie = await signIn(LOGIN);
      const cookies: string[] = new Array<string>(users.length);
      await eachLimited(
        users.map((login, i) => [login, i] as const),
        LOGIN_CONCURRENCY,
        async ([login, i]) => {
          cookies[i] = await signIn(login);
        },
      );
      sides.push({
        key,
        label: LABEL[key],
        child: { ...child, data: { ...child.data, cookie, cookies, logins: users } },
        samples: [],
      });
    }
    // A user's first signed-in request loads the groups into Redis: the cache is warm from here.
    for (const side of sides) await checkRoute(side);
    await runPairedRounds(sides, PAIRED_ROUNDS);
    const commands = await commandsPerRequest(redis.socket, sides);
    // One user alone (jdoe on every connection): what the single-user load hid.
    const commandsOneUser = await commandsPerRequest(redis.socket, sides.map(oneUser));
    const profileDir = process.env.BENCH_CPU_PROF;
    if (profileDir) {
      for (const side of sides) {
        const { profile } = await side.child.profile(() => loadSide(side, 2, CONNECTIONS), 250);
        await writeFile(join(profileDir, `production-shape-${side.key}.cpuprofile`), JSON.stringify(profile));
      }
    }
    // Still signed in and still a member after the load (nothing expired or got evicted).
    for (const side of sides) await checkRoute(side);
    await Promise.all([...instances.values()].map((child) => child.stop()));

    // Freshness: two instances of a configuration, one app (same prefix, client, sessions).
    const freshness = new Map<'B' | 'D', Freshness>();
    for (const key of ['B', 'D'] as const) {
      if (!instances.has(key)) continue;
      const env = {
        BENCH_CLIENT_ID: `bench-fresh-${key}`,
        BENCH_PREFIX: `fresh-${key.toLowerCase()}:`,
        BENCH_GROUPS_TTL_MS: String(FRESH_GROUPS_TTL_MS),
      };
      const pair = [await start(VARIANT[key], env), await start(VARIANT[key], env)] as const;
      register(env.BENCH_CLIENT_ID, pair, pair[0]);
      const logoutMs: number[] = [];
      for (let i = 0; i < LOGOUT_RUNS; i++) logoutMs.push(await logoutDelay(started, pair));
      const group = await groupChangeDelay(started, pair, FRESH_GROUPS_TTL_MS + 10_000);
      freshness.set(key, { logoutMs, group });
      await Promise.all(pair.map((child) => child.stop()));
    }

    return report(sides, { commands, commandsOneUser }, freshness, missingD, users.length);
  } finally {
    await Promise.all(children.map((child) => child.stop()));
    await emulator?.close();
    await redis.stop();
  }
}

/** Signs `login` in on the baseline (its helper route) and returns the `Cookie` header. */
async function baselineCookie(child: Instance, login: string): Promise<string> {
  const signIn = await browserLogin(`${child.data.baseUrl}/bench/sign-in?login=${encodeURIComponent(login)}`);
  const sid = signIn.cookies.get('app.sid');
  if (signIn.status !== 200 || sid === undefined)
    throw new Error(`baseline sign-in failed: ${signIn.status}`);
  return `app.sid=${sid}`;
}

function report(
  sides: Side[],
  { commands, commandsOneUser }: { commands: Table; commandsOneUser: Table },
  freshness: Map<'B' | 'D', Freshness>,
  missingD: string | undefined,
  userCount: number,
): SuiteResult {
  const side = (key: Key): Side | undefined => sides.find((each) => each.key === key);
  const [A, B, C, D] = [side('A')!, side('B')!, side('C')!, side('D')];
  const logoutD = freshness.get('D')?.logoutMs ?? [];
  const missing = (metric: string): Verdict => ({
    metric: `${metric}: not measured, ${missingD}`,
    ratio: NaN,
    target: '—',
    pass: false,
  });
  const target = D
    ? throughputRatio(D, A, 'throughput D/A (the recommended production config)', TARGET)
    : undefined;
  const logoutMetric = `back-channel logout at instance 1 seen by instance 2 (D), worst of ${logoutD.length}, in units of 1 s`;
  const verdicts: Verdict[] = [
    target ?? missing('throughput D/A'),
    D ? cpuRatio(D, A, 'CPU per request A/D', TARGET) : missing('CPU per request A/D'),
    logoutD.length === 0
      ? missing('back-channel logout seen by instance 2 (D)')
      : {
          metric: logoutMetric,
          ratio: Math.max(...logoutD) / LOGOUT_BOUND_MS,
          target: '≤ 1.00',
          pass: Math.max(...logoutD) <= LOGOUT_BOUND_MS,
        },
    throughputRatio(B, A, 'throughput B/A (today: library cache on Redis)'),
    cpuRatio(B, A, 'CPU per request A/B'),
    throughputRatio(C, A, 'throughput C/A (client-side caching)'),
    cpuRatio(C, A, 'CPU per request A/C'),
    ...(D ? [throughputRatio(D, B, 'throughput D/B (what the local layer gains)')] : []),
    throughputRatio(C, B, 'throughput C/B (what client-side caching gains)'),
  ];
  const row = (each: Side): string[] => {
    const cells = sideCells(each);
    return [
      each.label,
      cells.reqPerSec,
      cells.p50,
      cells.p99,
      cells.cpuUs,
      each === A ? '1.000' : fixed(throughputRatio(each, A, '').ratio, 3),
      each === D ? `≥ ${fixed(TARGET, 2)} ${target?.pass === true ? 'PASS' : 'FAIL'}` : '',
      cells.perRound,
    ];
  };
  const ms = (value: number): string => fixed(value, 0);
  const freshnessRows = (['B', 'D'] as const).flatMap((key) => {
    const found = freshness.get(key);
    if (!found) return [];
    return [
      [
        `${key}: back-channel logout → instance 2 signed out`,
        `${ms(median(found.logoutMs))} (median of ${found.logoutMs.length})`,
        ms(Math.max(...found.logoutMs)),
        key === 'D' ? `≤ ${LOGOUT_BOUND_MS}` : '',
      ],
      [
        `${key}: e-group change → instance 1 / instance 2 answer 403`,
        `${ms(found.group.first)} / ${ms(found.group.second)}`,
        '',
        '',
      ],
    ];
  });
  return {
    summary:
      `Signed-in \`GET /api/data\` (JSON) with a warm group cache, the load rotating over ${userCount} signed-in users ` +
      '(each in 300+ e-groups, as jdoe), every instance with ' +
      'its sessions in connect-redis and the library cache in `redisCache()` on one real Redis (private ' +
      'redis-server, unix socket). A = express-session + connect-redis + route; B = A + `cernSso()` + ' +
      "`requireGroup('it-dep')`; C = B with node-redis client-side caching (RESP3) on the cache client; " +
      'D = B with `redisCache(client, { localCache: true })`. Then freshness across two instances of B and of D.',
    settings: {
      connections: CONNECTIONS,
      'signed-in users (one session each per side)': `${userCount}, one per request in turn`,
      ...pairedRoundsNote(),
      'freshness poll': `${POLL_MS} ms`,
      'groupsTtlMs (freshness instances)': `${FRESH_GROUPS_TTL_MS} ms`,
    },
    table: {
      headers: [
        'variant',
        'req/s (median)',
        'p50 ms',
        'p99 ms',
        'CPU µs/req',
        'req/s ratio vs A',
        'target',
        'req/s per round',
      ],
      rows: sides.map(row),
    },
    verdicts,
    extraTables: [
      {
        title: `Redis commands per request, ${userCount} users in turn (one extra 1 s sample per side)`,
        table: commands,
      },
      {
        title: 'Redis commands per request, jdoe alone on every connection (for comparison, 1 s per side)',
        table: commandsOneUser,
      },
      {
        title: 'Freshness across two instances (ms)',
        table: { headers: ['what', 'ms', 'max ms', 'target'], rows: freshnessRows },
      },
    ],
    notes: [
      'CPU µs/req = CPU time of the server process (`process.cpuUsage()`) per answered request; the ' +
        "Redis server's own CPU is not counted (it is the same for every side only in A; B and C make more commands).",
      `Many users: each request is for the next of ${userCount} users (signed in once per side before the load, ` +
        'through the emulator for B-D), so concurrent requests almost never share a cache key: with one user ' +
        "on 10 connections, they share one store read (the cached loader's in-flight map) and one logout check " +
        "(reused for 1 s per sign-in), which hid most of B's extra Redis reads (second commands table). " +
        'B reads the group entry from Redis on every request and its CPU includes parsing it (300+ names) anew. ' +
        `A user comes back every ${userCount} requests, usually well within 1 s at these rates, so the logout ` +
        'check is still reused a few times per user here; in production, with users returning after seconds, ' +
        'B makes one more round trip for it as well.',
      'Sessions (connect-redis) stay on a plain RESP2 client in every side; C gives the library cache a second ' +
        'client with RESP3 and `clientSideCache` (sharing one client would also track the session key, which ' +
        "connect-redis's touch (EXPIRE) invalidates on every request).",
      'Back-channel logout: the emulator ends the SSO session and POSTs the logout token to instance 1, which ' +
        'writes the logout markers to the session store (connect-redis) before answering; ms from the start of ' +
        'that logout until instance 2 answers 401 (polled every ' +
        `${POLL_MS} ms after both instances served the session). Without a push, instance 2 reuses a "not logged ` +
        'out" answer for a sign-in at most 1 s (LOGOUT_RECHECK_MS), so the bound is 1 s plus one session-store read.',
      `E-group change: jdoe removed from it-dep at the emulator's AuthZ API, both instances polled alternately. ` +
        'A cached group entry is fresh for `groupsTtlMs` (here ' +
        `${FRESH_GROUPS_TTL_MS} ms; default 30 min); the first request after that on any instance takes the ` +
        "refresh lock and reloads the groups (the others serve the stale entry meanwhile, stale-while-revalidate), then stores the new entry in Redis. B reads Redis on every request: it sees the new entry on its next request. D's local copy carries the same `freshUntil` (never served as fresh past it) and is dropped by the invalidation message of the refresh's write. Bound: `groupsTtlMs` + one AuthZ load + propagation (B: none; D: one pub/sub message, at most about 1 s if the invalidation channel is not trusted).",
    ],
  };
}

const suite: Suite = { name: 'production-shape', run };
export default suite;
