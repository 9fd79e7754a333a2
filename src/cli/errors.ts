import { inspect } from 'node:util';
import { CernSsoError } from '../errors.js';

/** Exit codes of `express-cern-sso`, documented in `--help`. */
export const EXIT = {
  /** Success. */
  ok: 0,
  /** The answer is "no": an invalid token, an unknown user or group, no match. */
  no: 1,
  /** Usage or configuration error. */
  usage: 2,
  /** Keycloak or the Authorization Service is unavailable (503). */
  unavailable: 3,
  /** An unexpected error (a bug). */
  internal: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A command line the CLI cannot run: unknown command or option, missing argument. Exit 2. */
export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
  constructor(
    message: string,
    /** The command whose `--help` explains the usage (`token inspect`, `search`...). */
    readonly command?: string,
  ) {
    super(message);
  }
}

/** Missing or invalid environment variables, every one listed. Exit 2. */
export class CliConfigError extends Error {
  override readonly name = 'CliConfigError';
  constructor(
    readonly problems: readonly string[],
    headline = 'invalid configuration',
  ) {
    super(`${headline}:\n  - ${problems.join('\n  - ')}`);
  }
}

/** The exit code for a failure. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof CliUsageError || error instanceof CliConfigError) return EXIT.usage;
  if (error instanceof CernSsoError) {
    if (error.code === 'ERR_UPSTREAM_UNAVAILABLE' || error.status === 503) return EXIT.unavailable;
    if (
      error.code === 'ERR_CONFIG' ||
      error.code === 'ERR_IDP_MISCONFIGURED' ||
      error.code === 'ERR_BAD_REQUEST' ||
      error.status === 400
    ) {
      return EXIT.usage;
    }
    if (error.code === 'ERR_INVALID_TOKEN' || error.status === 401 || error.status === 403) return EXIT.no;
  }
  return EXIT.internal;
}

/** Library option names in `ERR_CONFIG` details, and the environment variables that set them. */
const OPTION_TO_ENV: Record<string, string> = {
  clientId: 'CERN_SSO_CLIENT_ID',
  clientSecret: 'CERN_SSO_CLIENT_SECRET',
  issuer: 'CERN_SSO_ISSUER',
  authzApiUrl: 'CERN_SSO_AUTHZ_API_URL',
  audience: 'CERN_SSO_AUDIENCE (or --audience)',
};

const envOf = (option: string): string | undefined =>
  Object.hasOwn(OPTION_TO_ENV, option) ? OPTION_TO_ENV[option] : undefined;

/**
 * Rewrites `issuer: must use https…` as `CERN_SSO_ISSUER: must use https…`, and the camel-case
 * option names in the text (`check clientId and clientSecret`) as their variables.
 */
export function envProblem(detail: string): string {
  const match = /^([A-Za-z]+)(\.\d+)?: (.*)$/s.exec(detail);
  const option = match?.[1];
  const env = option === undefined ? undefined : envOf(option);
  const text = env === undefined || match?.[3] === undefined ? detail : `${env}: ${match[3]}`;
  return text.replace(/\b(clientId|clientSecret|authzApiUrl)\b/g, (name) => envOf(name) ?? name);
}

/** An `ERR_CONFIG` of the library as a {@link CliConfigError} naming environment variables. */
export function asCliConfigError(error: unknown): unknown {
  if (!(error instanceof CernSsoError) || error.code !== 'ERR_CONFIG' || error.details.length === 0) {
    return error;
  }
  return new CliConfigError(error.details.map(envProblem));
}

/** The one-line (or, for configuration problems, one line per problem) reason shown on stderr. */
export function failureMessage(error: unknown): string {
  if (error instanceof CliUsageError || error instanceof CliConfigError) return error.message;
  if (error instanceof CernSsoError) {
    if (exitCodeFor(error) === EXIT.unavailable) {
      const retry = error.headers['Retry-After'];
      return `${error.message}${retry === undefined ? '' : ` (retry in ${retry} s)`}`;
    }
    // What to fix, as the log says it, in the words of the CLI (its environment variables).
    if (error.code === 'ERR_IDP_MISCONFIGURED' && error.details.length > 0) {
      return `sign-in is misconfigured: ${error.details.map(envProblem).join('; ')}`;
    }
    return error.message;
  }
  return 'unexpected error (rerun with CERN_SSO_DEBUG=1 for details, and please report it)';
}

/** Stack traces of an error and its causes, for `CERN_SSO_DEBUG=1`. */
export function debugDetails(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth += 1) {
    if (current instanceof Error) {
      lines.push(
        `${depth === 0 ? '' : 'caused by: '}${current.stack ?? `${current.name}: ${current.message}`}`,
      );
      current = current.cause;
    } else {
      lines.push(`${depth === 0 ? '' : 'caused by: '}${inspect(current)}`);
      current = undefined;
    }
  }
  return lines.join('\n');
}
