import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { logLine } from '../helpers/log-lines.js';
import { startCernSsoEmulator, type CernSsoEmulator, type EmulatorOptions } from '../../src/testing/index.js';
import type { CacheStore } from '../../src/cache/types.js';
import { memoryCache } from '../../src/cache/memory.js';
import type { IdentityProviderOptions } from '../../src/config.js';
import { createIdentityProvider } from '../../src/identity/identity-provider.js';
import type { IdentityProvider } from '../../src/identity/types.js';
import type { Logger } from '../../src/logger.js';

/** Paths on the emulator, for `requests.count()` and `faults.set()`. */
export const API = '/api/v1.0';
export const MEMBERSHIP = `${API}/IdentityMembership`;
export const API_TOKEN = '/auth/realms/cern/api-access/token';
export const OIDC_TOKEN = '/auth/realms/cern/protocol/openid-connect/token';

export interface RecordingLogger extends Logger {
  warnings: string[];
  errors: string[];
  all: string[];
}

/** Keeps every message, so tests can assert on warnings and that no token was logged. */
export function recordingLogger(): RecordingLogger {
  const warnings: string[] = [];
  const errors: string[] = [];
  const all: string[] = [];
  const keep =
    (list?: string[]) =>
    (...args: unknown[]): void => {
      const line = logLine(args);
      all.push(line);
      list?.push(line);
    };
  return { warnings, errors, all, debug: keep(), info: keep(), warn: keep(warnings), error: keep(errors) };
}

/** A controllable clock for the provider (the emulator keeps real time). */
export function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance: (ms) => {
      offset += ms;
    },
  };
}

export function startEmulator(options: EmulatorOptions = {}): Promise<CernSsoEmulator> {
  return startCernSsoEmulator(options);
}

export interface ProviderSetup {
  identity: IdentityProvider;
  logger: RecordingLogger;
  cache: CacheStore;
}

/** An identity provider for the emulator's demo client, with a recording logger. */
export function makeProvider(
  emulator: CernSsoEmulator,
  options: IdentityProviderOptions = {},
): ProviderSetup {
  const logger = recordingLogger();
  const cache = options.cache ?? memoryCache();
  const identity = createIdentityProvider({
    clientId: 'demo-app',
    clientSecret: 'demo-app-secret',
    issuer: emulator.issuer,
    authzApiUrl: emulator.authzApiUrl,
    logger,
    ...options,
    cache,
  });
  return { identity, logger, cache };
}

/** The rejection of `promise` (fails the test if it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/**
 * The hooks most identity test files share: one emulator for the file (`emulatorOptions`), and before each test a
 * fresh provider (closed after it) with the emulator's request log and faults cleared. Read
 * `env.emulator` and `env.setup` inside tests.
 */
export function useEmulatorAndProvider(
  options: IdentityProviderOptions = {},
  emulatorOptions: EmulatorOptions = {},
): {
  readonly emulator: CernSsoEmulator;
  readonly setup: ProviderSetup;
} {
  let emulator: CernSsoEmulator | undefined;
  let setup: ProviderSetup | undefined;
  beforeAll(async () => {
    emulator = await startEmulator(emulatorOptions);
  });
  afterAll(async () => {
    await emulator?.close();
  });
  beforeEach(() => {
    emulator!.requests.reset();
    emulator!.faults.clear();
    setup = makeProvider(emulator!, options);
  });
  afterEach(async () => {
    await setup?.identity.close();
  });
  return {
    get emulator() {
      return emulator!;
    },
    get setup() {
      return setup!;
    },
  };
}
