import type { AddressInfo } from 'node:net';
import express from 'express';
import { createAuthzApiRouter, type AuthzApiDeps } from '../../../src/testing/authz/index.js';
import type { EmulatorGroup, EmulatorUser } from '../../../src/testing/types.js';

/** Fake verifier: `good` and `multi` pass, `wrong-aud` has another audience, anything else throws. */
export async function fakeVerify(token: string): Promise<Record<string, unknown>> {
  await Promise.resolve();
  if (token === 'good') return { aud: 'authorization-service-api', sub: 'svc' };
  if (token === 'multi') return { aud: ['account', 'authorization-service-api'] };
  if (token === 'wrong-aud') return { aud: 'account' };
  if (token === 'no-aud') return { sub: 'x' };
  throw new Error('bad signature');
}

/** Parsed JSON response body; `any` so that tests can assert on it without casts. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonBody = any;

export interface TestApi {
  origin: string;
  /** GET `path` (relative to the origin, e.g. `/api/v1.0/Identity`) with a bearer token. */
  get: (path: string, token?: string | null) => Promise<{ status: number; body: JsonBody; headers: Headers }>;
  close: () => Promise<void>;
}

/** Mounts the router at `/api/v1.0` on 127.0.0.1:0, like the SSO emulator does. */
export async function startApi(
  data: { users: () => readonly EmulatorUser[]; groups: () => readonly EmulatorGroup[] },
  options: Partial<Pick<AuthzApiDeps, 'defaultPageSize' | 'maxPageSize'>> = {},
): Promise<TestApi> {
  const app = express();
  app.use('/api/v1.0', createAuthzApiRouter({ ...data, ...options, verifyApiToken: fakeVerify }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve).once('error', reject);
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    get: async (path, token = 'good') => {
      const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
      const res = await fetch(origin + path, { headers });
      const text = await res.text();
      return { status: res.status, body: text === '' ? undefined : JSON.parse(text), headers: res.headers };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => {
          if (err) reject(err);
          else resolve();
        });
      }),
  };
}

/** A small directory: CERN staff, a guest, an eduGAIN user with `/` in the login, a service. */
export const USERS: EmulatorUser[] = [
  {
    login: 'jdoe',
    password: 'secret',
    personId: 123456,
    firstName: 'John',
    lastName: 'Doe',
    displayName: 'John Doe',
    email: 'john.doe@cern.ch',
    affiliation: 'CERN',
    phone: '71234',
    department: 'IT',
    group: 'CD',
    section: 'DB',
    uid: 1001,
    gid: 1000,
    modificationTime: '2025-03-01T10:00:00Z',
  },
  {
    login: 'asmith',
    personId: 654321,
    firstName: 'Alice',
    lastName: 'Smith',
    displayName: 'Alice Smith',
    email: 'alice.smith@cern.ch',
    affiliation: 'ETH Zurich',
    department: 'EP',
    uid: 1002,
    modificationTime: '2023-06-15T08:30:00Z',
  },
  { login: 'guest1', firstName: 'Gus', lastName: 'Guest', email: 'gus@example.org', active: false },
  {
    login: 'https://idp.example.org/idp/shibboleth!alice',
    firstName: 'Alice',
    lastName: 'Edu',
    source: 'edugain',
  },
  { login: 'svc-backup', type: 'Service', displayName: 'Backup service' },
  { login: 'loner', displayName: 'No Groups' },
];

export const GROUPS: EmulatorGroup[] = [
  { id: 'it-dep', displayName: 'IT department', description: 'All of IT', memberGroups: ['it-cd'] },
  { id: 'it-cd', displayName: 'IT-CD', members: ['jdoe'], memberGroups: ['it-cd-db'] },
  { id: 'it-cd-db', members: ['jdoe', 'svc-backup', 'ghost-not-a-user'] },
  { id: 'ep-dep', displayName: 'EP department', members: ['asmith'], memberGroups: ['missing-group'] },
  { id: 'somegroup|1234-uuid', members: ['jdoe'] },
  { id: 'edugain-users', members: ['https://idp.example.org/idp/shibboleth!alice'] },
  { id: 'empty-group', description: 'nobody' },
  // A cycle: must terminate, and members of either are members of both.
  { id: 'cycle-a', members: ['asmith'], memberGroups: ['cycle-b'] },
  { id: 'cycle-b', members: ['guest1'], memberGroups: ['cycle-a'] },
];

/** `count` generated users `user0000`… with varied attributes, in shuffled order. */
export function generateUsers(count: number): EmulatorUser[] {
  const users: EmulatorUser[] = [];
  for (let i = 0; i < count; i++) {
    const n = String(i).padStart(4, '0');
    users.push({
      login: `user${n}`,
      personId: 100000 + i,
      firstName: `First${n}`,
      lastName: `Last${i % 7}`,
      displayName: `First${n} Last${i % 7}`,
      email: `user${n}@cern.ch`,
      department: ['IT', 'EP', 'TH'][i % 3]!,
      modificationTime: new Date(Date.UTC(2020, 0, 1) + i * 3_600_000).toISOString(),
    });
  }
  // Deterministic shuffle: the API, not the seed, must provide the ordering.
  for (let i = users.length - 1; i > 0; i--) {
    const j = (i * 7919) % (i + 1);
    [users[i], users[j]] = [users[j]!, users[i]!];
  }
  return users;
}
