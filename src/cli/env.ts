import { CERN_AUTHZ_API_URL, CERN_ISSUER } from '../config.js';
import { createIdentityProvider } from '../identity/identity-provider.js';
import type { IdentityProvider } from '../identity/types.js';
import type { Logger } from '../logger.js';
import { asCliConfigError, CliConfigError } from './errors.js';

/** The environment the CLI reads (`process.env`, or an object in tests). */
export type CliEnv = Readonly<Record<string, string | undefined>>;

/** The environment variables of the CLI. */
export const ENV = {
  clientId: 'CERN_SSO_CLIENT_ID',
  clientSecret: 'CERN_SSO_CLIENT_SECRET',
  issuer: 'CERN_SSO_ISSUER',
  authzApiUrl: 'CERN_SSO_AUTHZ_API_URL',
  audience: 'CERN_SSO_AUDIENCE',
  accessToken: 'ACCESS_TOKEN',
  debug: 'CERN_SSO_DEBUG',
} as const;

/** What each required variable is, for the "missing" message. */
const DESCRIPTIONS: Record<string, string> = {
  [ENV.clientId]: "the application's client id in the CERN Application Portal",
  [ENV.clientSecret]: "the application's client secret",
};

/** The CLI's view of the `CERN_SSO_*` variables. */
export interface CliSettings {
  issuer: string;
  authzApiUrl: string;
  clientId: string | undefined;
  clientSecret: string | undefined;
  /** `CERN_SSO_AUDIENCE`, split on commas and spaces; `undefined` when unset. */
  audiences: string[] | undefined;
  debug: boolean;
}

/** A variable's value, `undefined` when unset or blank. */
export function envValue(env: CliEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value;
}

/** Splits `a, b c` into `['a', 'b', 'c']`. */
export function splitList(value: string): string[] {
  return value.split(/[\s,]+/).filter((item) => item !== '');
}

export function readSettings(env: CliEnv): CliSettings {
  const audience = envValue(env, ENV.audience);
  const debug = envValue(env, ENV.debug);
  return {
    issuer: envValue(env, ENV.issuer)?.trim() ?? CERN_ISSUER,
    authzApiUrl: envValue(env, ENV.authzApiUrl)?.trim() ?? CERN_AUTHZ_API_URL,
    clientId: envValue(env, ENV.clientId)?.trim(),
    // A secret is taken as is (never trimmed, never printed).
    clientSecret: envValue(env, ENV.clientSecret),
    audiences: audience === undefined ? undefined : splitList(audience),
    debug: debug !== undefined && !['0', 'false', 'no', 'off'].includes(debug.trim().toLowerCase()),
  };
}

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

/** The client credentials, or the names of the variables that are missing. */
export function clientCredentials(settings: CliSettings): ClientCredentials | { missing: string[] } {
  const { clientId, clientSecret } = settings;
  if (clientId !== undefined && clientSecret !== undefined) return { clientId, clientSecret };
  const missing: string[] = [];
  if (clientId === undefined) missing.push(ENV.clientId);
  if (clientSecret === undefined) missing.push(ENV.clientSecret);
  return { missing };
}

/** Lines for a {@link CliConfigError} about missing variables. */
export function missingProblems(names: readonly string[]): string[] {
  return names.map((name) => {
    const description = DESCRIPTIONS[name];
    return `${name} is not set${description === undefined ? '' : ` (${description})`}`;
  });
}

/**
 * The identity provider configured from the environment (every `CERN_SSO_*` value is passed
 * explicitly, so the library never falls back to `process.env`).
 *
 * @throws CliConfigError listing every missing or invalid variable.
 */
export function identityFromSettings(settings: CliSettings, logger: Logger): IdentityProvider {
  const credentials = clientCredentials(settings);
  const missing = 'missing' in credentials ? credentials.missing : [];
  const problems = missingProblems(missing);
  let identity: IdentityProvider | undefined;
  try {
    // With credentials missing, placeholders still let the other variables be checked (no I/O
    // happens at construction), so every problem is reported at once.
    identity = createIdentityProvider({
      clientId: 'missing' in credentials ? 'unset' : credentials.clientId,
      clientSecret: 'missing' in credentials ? 'unset' : credentials.clientSecret,
      issuer: settings.issuer,
      authzApiUrl: settings.authzApiUrl,
      logger,
    });
  } catch (error) {
    const mapped = asCliConfigError(error);
    if (!(mapped instanceof CliConfigError)) throw mapped;
    problems.push(...mapped.problems);
  }
  if (problems.length > 0 || !identity) {
    void identity?.close();
    throw new CliConfigError(problems);
  }
  return identity;
}
