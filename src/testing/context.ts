import type { KeyStore } from './keys.js';
import type { LoginTickets } from './login-tickets.js';
import type { Store } from './store.js';
import type { EmulatorClient, EmulatorGroup, EmulatorUser } from './types.js';

/** Settings that tests may change while the emulator runs. */
export interface EmulatorSettings {
  accessTokenTtlSec: number;
  refreshTokenTtlSec: number;
  apiTokenTtlSec: number;
  revokeRefreshTokens: boolean;
  autoLogin: string | false;
  /** `EmulatorOptions.acrLevels`, as a Map (names come from requests). */
  acrLevels: ReadonlyMap<string, number> | undefined;
}

/** Everything the route handlers share. */
export interface EmulatorContext {
  readonly realm: string;
  /** `/auth/realms/<realm>`. */
  readonly realmPath: string;
  /** `<url>/auth/realms/<realm>`; set once the server listens (before any request arrives). */
  issuer: string;
  readonly users: EmulatorUser[];
  readonly groups: EmulatorGroup[];
  readonly clients: Map<string, EmulatorClient>;
  readonly settings: EmulatorSettings;
  readonly keys: KeyStore;
  readonly store: Store;
  /** One-time tickets of `emulator.login()` (see `LOGIN_TICKET_HEADER`). */
  readonly loginTickets: LoginTickets;
}

/** Looks a user up by login (exact match, as `sub` is compared). */
export function findUser(ctx: EmulatorContext, login: string): EmulatorUser | undefined {
  return ctx.users.find((user) => user.login === login);
}
