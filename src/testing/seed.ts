import type { EmulatorClient, EmulatorGroup, EmulatorUser } from './types.js';

/** Password of every seeded (and generated) user that has no `password` of its own. */
export const DEMO_PASSWORD = 'demo';

/** Login of the seeded eduGAIN user: eduGAIN logins may contain `/` (sent as `%2F` to the AuthZ API). */
export const EDUGAIN_LOGIN = 'edugain.uni-example.it/srossi';

/** The default `modificationTime` of seeded identities. */
const SEED_TIME = '2024-01-15T08:30:00Z';

/** Freezes an object and the arrays/objects it holds, so the shared seed cannot be changed by accident. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Hand-written identities covering the cases a CERN app meets: staff (EN and FR), an admin, a
 * user from an institute, a disabled account with a non-ASCII name, a guest without person id,
 * an eduGAIN user whose login contains `/`, and a service account.
 */
export const namedSeedUsers: readonly EmulatorUser[] = deepFreeze([
  {
    login: 'jdoe',
    personId: 123456,
    firstName: 'John',
    lastName: 'Doe',
    displayName: 'John Doe',
    email: 'john.doe@cern.ch',
    preferredLanguage: 'EN',
    type: 'Person',
    source: 'cern',
    affiliation: 'CERN',
    phone: '71234',
    department: 'IT',
    group: 'CD',
    section: 'DO',
    uid: 12345,
    gid: 1028,
    active: true,
    modificationTime: SEED_TIME,
  },
  {
    login: 'mmartin',
    personId: 234567,
    firstName: 'Marie',
    lastName: 'Martin',
    displayName: 'Marie Martin',
    email: 'marie.martin@cern.ch',
    preferredLanguage: 'FR',
    type: 'Person',
    source: 'cern',
    affiliation: 'CERN',
    phone: '74567',
    department: 'EP',
    group: 'ADE',
    section: 'ID',
    uid: 23456,
    gid: 1307,
    active: true,
    modificationTime: SEED_TIME,
  },
  {
    login: 'admin1',
    personId: 345678,
    firstName: 'Alexandre',
    lastName: 'Dubois',
    displayName: 'Alexandre Dubois',
    email: 'alexandre.dubois@cern.ch',
    preferredLanguage: 'FR',
    type: 'Person',
    source: 'cern',
    affiliation: 'CERN',
    phone: '76543',
    department: 'IT',
    group: 'PW',
    section: 'IS',
    uid: 34567,
    gid: 1028,
    active: true,
    modificationTime: SEED_TIME,
  },
  {
    login: 'lnguyen',
    personId: 456789,
    firstName: 'Linh',
    lastName: 'Nguyen',
    displayName: 'Linh Nguyen',
    email: 'linh.nguyen@cern.ch',
    preferredLanguage: 'EN',
    type: 'Person',
    source: 'cern',
    affiliation: 'Universite de Geneve',
    phone: '61122',
    department: 'EP',
    group: 'UAT',
    uid: 45678,
    gid: 1307,
    active: true,
    modificationTime: SEED_TIME,
  },
  {
    login: 'kmuller',
    personId: 567890,
    firstName: 'Klaus',
    lastName: 'Müller',
    displayName: 'Klaus Müller',
    email: 'klaus.muller@cern.ch',
    preferredLanguage: 'EN',
    type: 'Person',
    source: 'cern',
    affiliation: 'CERN',
    department: 'TE',
    group: 'MSC',
    uid: 56789,
    gid: 1470,
    // Left CERN: the account exists but is disabled (login refused, `activeUser: false`).
    active: false,
    modificationTime: '2023-06-30T17:00:00Z',
  },
  {
    login: 'guest-anna',
    firstName: 'Anna',
    lastName: 'Lindqvist',
    displayName: 'Anna Lindqvist',
    email: 'anna.lindqvist@example.com',
    preferredLanguage: 'EN',
    type: 'Person',
    source: 'external',
    affiliation: 'Guest',
    active: true,
    modificationTime: SEED_TIME,
  },
  {
    login: EDUGAIN_LOGIN,
    firstName: 'Sofia',
    lastName: 'Rossi',
    displayName: 'Sofia Rossi',
    email: 'sofia.rossi@uni-example.it',
    preferredLanguage: 'EN',
    type: 'Person',
    source: 'edugain',
    affiliation: 'Universita di Esempio',
    active: true,
    modificationTime: SEED_TIME,
  },
  {
    login: 'svc-monitoring',
    firstName: 'Monitoring',
    lastName: 'Service',
    displayName: 'IT monitoring service account',
    email: 'svc-monitoring@cern.ch',
    preferredLanguage: 'EN',
    type: 'Service',
    source: 'cern',
    affiliation: 'CERN',
    department: 'IT',
    group: 'MI',
    uid: 99001,
    gid: 1028,
    active: true,
    modificationTime: SEED_TIME,
  },
]);

/** Options of `generateUsers()`. */
export interface GenerateUsersOptions {
  /** PRNG seed; the same seed gives the same users. Default 1. */
  seed?: number;
  /** Login prefix. Default `user`. */
  prefix?: string;
  /** Index of the first user. Default 1 (`user0001`). */
  startIndex?: number;
}

/** mulberry32: a tiny, fast, deterministic PRNG (quality is plenty for test data). @internal */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST_NAMES: readonly string[] = (
  'Adam Amélie Andrea Ana Benoît Carla Chen Daniel Elena Emma Fatima François Giulia Hannah ' +
  'Hiroshi Ines Ivan Jakub Julia Karim Laura Lucas Maria Mateo Mei Nadia Nikos Olga Pablo Paul ' +
  'Priya Rafael Sara Sébastien Sven Tomás Valentina Wei Yusuf Zofia'
).split(' ');
const LAST_NAMES: readonly string[] = (
  'Andersen Bernard Bianchi Costa Dubois Fernández Fischer García Greco Hansen Ivanova Jansen ' +
  'Kowalski Lambert Larsen Lefèvre Li Martins Meyer Moreau Müller Nakamura Novak Olsen ' +
  'Papadopoulos Petrov Ricci Rossi Santos Schneider Silva Smith Suzuki Svensson Wagner Wang Weber ' +
  'Wójcik Yilmaz Zhang'
).split(' ');
/** CERN departments with a plausible group each. */
const DEPARTMENTS = [
  ['IT', 'CD'],
  ['IT', 'DA'],
  ['EP', 'ADE'],
  ['EP', 'CMG'],
  ['TE', 'MSC'],
  ['BE', 'OP'],
  ['SY', 'RF'],
  ['EN', 'EA'],
  ['HSE', 'RP'],
  ['TH', 'TH'],
  ['FAP', 'BC'],
  ['ATS', 'DO'],
] as const;
const SECTIONS = ['DO', 'IS', 'SO', 'AB', 'CS', undefined] as const;

function pick<T>(list: readonly T[], random: () => number): T {
  return list[Math.floor(random() * list.length)] as T;
}

/** `Émilie Lefèvre` → `emilie.lefevre`: ASCII, as CERN e-mail addresses are. */
function emailLocalPart(first: string, last: string): string {
  return `${first}.${last}`
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z.-]/g, '')
    .toLowerCase();
}

/**
 * Generates `n` deterministic CERN staff identities (`user0001`, `user0002`, …) with every field
 * filled, for pagination and search tests. Generating 10 000 takes a few milliseconds.
 */
export function generateUsers(n: number, options: GenerateUsersOptions = {}): EmulatorUser[] {
  const random = mulberry32(options.seed ?? 1);
  const prefix = options.prefix ?? 'user';
  const start = options.startIndex ?? 1;
  const width = Math.max(4, String(start + n - 1).length);
  const emails = new Set<string>();
  const users: EmulatorUser[] = [];
  for (let i = start; i < start + n; i++) {
    const firstName = pick(FIRST_NAMES, random);
    const lastName = pick(LAST_NAMES, random);
    const [department, group] = pick(DEPARTMENTS, random);
    const section = pick(SECTIONS, random);
    const french = random() < 0.2;
    const hasPhone = random() < 0.85;
    const phone = String(70000 + Math.floor(random() * 10000));
    const day = 1 + Math.floor(random() * 28);
    // Homonyms get a number, like real CERN addresses (john.smith2@cern.ch).
    let local = emailLocalPart(firstName, lastName);
    if (emails.has(local)) local = `${local}${i}`;
    emails.add(local);
    const user: EmulatorUser = {
      login: `${prefix}${String(i).padStart(width, '0')}`,
      personId: 700000 + i,
      firstName,
      lastName,
      displayName: `${firstName} ${lastName}`,
      email: `${local}@cern.ch`,
      preferredLanguage: french ? 'FR' : 'EN',
      type: 'Person',
      source: 'cern',
      affiliation: 'CERN',
      department,
      group,
      uid: 100000 + i,
      gid: 1000 + DEPARTMENTS.findIndex(([d, g]) => d === department && g === group),
      active: true,
      modificationTime: `2024-02-${String(day).padStart(2, '0')}T12:00:00Z`,
    };
    if (hasPhone) user.phone = phone;
    if (section !== undefined) user.section = section;
    users.push(user);
  }
  return users;
}

/** Number of generated identities in the default seed: enough for several AuthZ API pages. */
export const GENERATED_USER_COUNT = 2500;

const generated = generateUsers(GENERATED_USER_COUNT);

/** Default users: `namedSeedUsers` followed by 2500 generated staff (`user0001` … `user2500`). Frozen. */
export const seedUsers: readonly EmulatorUser[] = deepFreeze([...namedSeedUsers, ...generated]);

/**
 * Default e-groups. Nesting: `it-dep-admins` ⊂ `it-dep` ⊂ `cern-staff` ⊂ `cern-users-demo`, and
 * `atlas-higgs-wg` ⊂ `atlas-physicists`; so `admin1` is in all four of the first chain. Frozen.
 */
export const seedGroups: readonly EmulatorGroup[] = deepFreeze([
  {
    id: 'it-dep',
    displayName: 'IT Department',
    description: 'All members of the IT department',
    members: ['jdoe', 'svc-monitoring'],
    memberGroups: ['it-dep-admins'],
  },
  {
    id: 'it-dep-admins',
    displayName: 'IT Department administrators',
    description: 'Administrators of IT services',
    members: ['admin1'],
  },
  {
    id: 'cern-staff',
    displayName: 'CERN staff',
    description: 'Staff members and fellows (large group: thousands of members)',
    members: ['mmartin', 'kmuller', ...generated.map((user) => user.login)],
    memberGroups: ['it-dep'],
  },
  {
    id: 'cern-users-demo',
    displayName: 'CERN Users (demo)',
    description: 'Stands for the "CERN Users" alias in the demo: staff and registered users',
    members: ['lnguyen'],
    memberGroups: ['cern-staff'],
  },
  {
    id: 'atlas-physicists',
    displayName: 'ATLAS physicists',
    description: 'Members of the ATLAS collaboration',
    members: ['lnguyen'],
    memberGroups: ['atlas-higgs-wg'],
  },
  {
    id: 'atlas-higgs-wg',
    displayName: 'ATLAS Higgs working group',
    members: ['mmartin', EDUGAIN_LOGIN],
  },
  {
    id: 'edugain-collaborators',
    displayName: 'External collaborators',
    description: 'Guests and eduGAIN users with access to collaboration tools',
    members: ['guest-anna', EDUGAIN_LOGIN],
  },
  {
    id: 'it-monitoring-services',
    displayName: 'IT monitoring services',
    members: ['svc-monitoring', 'jdoe'],
  },
]);

/** The demo application's registration (`demo-app` / `demo-app-secret`), the default client. Frozen. */
export const demoClient: EmulatorClient = deepFreeze({
  clientId: 'demo-app',
  clientSecret: 'demo-app-secret',
  redirectUris: ['http://localhost:3000/oidc/callback'],
  postLogoutRedirectUris: ['http://localhost:3000/*'],
  roles: { jdoe: ['user'], admin1: ['admin', 'user'] },
});
