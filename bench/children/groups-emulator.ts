/**
 * Child process of the `cold-groups` suite: the CERN SSO emulator with `BENCH_USERS` users
 * (`user0001`...), each in a few realistic e-groups, and a small control server on loopback for
 * the parent:
 *
 * - `POST /login` `{ baseUrls, concurrency }`: signs every user in (real logins through the
 *   emulator, `emulator.login()`), alternating between the app instances' `baseUrls`; answers
 *   `{ cookies, ms }` (one `Cookie` header per user, in user order).
 * - `GET /counts`: requests the emulator received since the last reset, by kind.
 * - `POST /reset`: clears the request log.
 *
 * Every user is in {@link GUARDED_GROUP} (the group the suite's route requires), nested in
 * `bench-all`, plus one department group and 6 to 10 working groups of a pool of 300.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startCernSsoEmulator, type EmulatorGroup } from '../../src/testing/index.js';
import { generateUsers, mulberry32 } from '../../src/testing/seed.js';
import { serveChild } from '../lib/child.js';

import { CLIENT_ID, CLIENT_SECRET, GUARDED_GROUP } from './groups-constants.js';

export interface GroupsEmulatorReady {
  issuer: string;
  authzApiUrl: string;
  /** Root URL of the control server. */
  control: string;
  users: number;
  groupsPerUser: number;
}

/** Requests seen by the emulator, by kind. */
export interface UpstreamCounts {
  /** AuthZ API group lookups (`/IdentityMembership/<login>/precomputed`). */
  groups: number;
  /** Service tokens (`api-access/token`, client credentials). */
  apiToken: number;
  /** OIDC token endpoint (code exchange, refresh). */
  token: number;
  /** Everything else (discovery, JWKS, authorization, other API calls). */
  other: number;
}

const POOL = 300;

function buildGroups(logins: readonly string[], departments: readonly string[]): EmulatorGroup[] {
  const random = mulberry32(7);
  const working = new Map<string, string[]>();
  const byDepartment = new Map<string, string[]>();
  for (const [index, login] of logins.entries()) {
    const department = `${departments[index] ?? 'it'}-dep-bench`;
    byDepartment.set(department, [...(byDepartment.get(department) ?? []), login]);
    const count = 6 + Math.floor(random() * 5);
    const chosen = new Set<string>();
    while (chosen.size < count)
      chosen.add(`bench-wg-${String(Math.floor(random() * POOL)).padStart(3, '0')}`);
    for (const group of chosen) working.set(group, [...(working.get(group) ?? []), login]);
  }
  return [
    { id: 'bench-all', displayName: 'Everyone (bench)', memberGroups: [GUARDED_GROUP] },
    { id: GUARDED_GROUP, displayName: 'Staff (bench)', members: [...logins] },
    ...[...byDepartment].map(([id, members]) => ({ id, members })),
    ...[...working].map(([id, members]) => ({ id, members })),
  ];
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      try {
        resolve(body === '' ? {} : (JSON.parse(body) as unknown));
      } catch (error) {
        reject(error instanceof Error ? error : new Error('bad JSON'));
      }
    });
    req.on('error', reject);
  });
}

async function start(): Promise<{ data: GroupsEmulatorReady; close: () => Promise<void> }> {
  const count = Number(process.env.BENCH_USERS ?? 1000);
  const users = generateUsers(count, { prefix: 'user' });
  const logins = users.map((user) => user.login);
  const groups = buildGroups(
    logins,
    users.map((user) => (user.department ?? 'it').toLowerCase()),
  );
  const emulator = await startCernSsoEmulator({ users, groups, accessTokenTtlSec: 3600 });
  // Any port on localhost: the app instances are restarted on new ports between rounds.
  emulator.registerClient({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUris: ['http://localhost:*'],
  });
  const realm = new URL(emulator.issuer).pathname;
  const counts = (): UpstreamCounts => {
    const groupLookups = emulator.requests.count('/api/v1.0/IdentityMembership');
    const apiToken = emulator.requests.count(`${realm}/api-access/token`);
    const token = emulator.requests.count(`${realm}/protocol/openid-connect/token`);
    return {
      groups: groupLookups,
      apiToken,
      token,
      other: emulator.requests.log.length - groupLookups - apiToken - token,
    };
  };

  async function loginAll(
    baseUrls: string[],
    concurrency: number,
  ): Promise<{ cookies: string[]; ms: number }> {
    const started = performance.now();
    const cookies = new Array<string>(logins.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < logins.length) {
        const index = next++;
        const baseUrl = baseUrls[index % baseUrls.length] ?? '';
        const { cookie } = await emulator.login({ baseUrl, login: logins[index] ?? '' });
        cookies[index] = cookie;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { cookies, ms: performance.now() - started };
  }

  const control: Server = createServer((req, res) => {
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const route = `${req.method} ${req.url}`;
    const handle = async (): Promise<unknown> => {
      if (route === 'GET /counts') return counts();
      if (route === 'POST /reset') {
        emulator.requests.reset();
        return {};
      }
      if (route === 'POST /login') {
        const { baseUrls, concurrency } = (await readJson(req)) as {
          baseUrls: string[];
          concurrency: number;
        };
        return loginAll(baseUrls, concurrency);
      }
      throw new Error(`unknown control route ${route}`);
    };
    handle().then(
      (body) => {
        send(200, body);
      },
      (error: unknown) => {
        send(500, { error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
      },
    );
  });
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
  const { port } = control.address() as AddressInfo;
  const memberships = groups.reduce((sum, group) => sum + (group.members?.length ?? 0), 0);

  return {
    data: {
      issuer: emulator.issuer,
      authzApiUrl: emulator.authzApiUrl,
      control: `http://127.0.0.1:${port}`,
      users: count,
      // Direct memberships, plus bench-all through the nesting.
      groupsPerUser: memberships / count + 1,
    },
    close: async () => {
      control.closeAllConnections();
      await new Promise((resolve) => control.close(resolve));
      await emulator.close();
    },
  };
}

serveChild(start, 600_000);
