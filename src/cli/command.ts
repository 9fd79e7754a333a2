import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { IdentityProvider } from '../identity/types.js';
import type { Logger } from '../logger.js';
import { identityFromSettings, type CliEnv, type CliSettings } from './env.js';
import { CliUsageError } from './errors.js';
import type { Output } from './output.js';

/** The streams and environment `runCli` works with. */
export interface CliIo {
  stdout: Output;
  stderr: Output;
  env: CliEnv;
  /** Read by `token inspect -`. */
  stdin?: AsyncIterable<string | Uint8Array> | undefined;
}

/** What a command gets besides its arguments. */
export interface CommandContext {
  io: CliIo;
  settings: CliSettings;
  logger: Logger;
  /** The identity provider from the environment (created on first use, closed by `runCli`). */
  identity(): IdentityProvider;
}

/** One command of the CLI. */
export interface Command {
  /** As typed: `user`, `token inspect`. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The full `--help` text. */
  help: string;
  /** Runs the command; resolves to the exit code. Failures reject (mapped by `runCli`). */
  run(args: string[], context: CommandContext): Promise<number>;
}

/** Whether `-h`/`--help` appears among the options (before a `--`). */
export function wantsHelp(args: readonly string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false;
    if (arg === '-h' || arg === '--help') return true;
  }
  return false;
}

/** Node's `parseArgs` errors as usage errors naming the command. */
export function parseOrUsage<T>(command: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      const message = error instanceof Error ? error.message : String(error);
      // Node's messages may suggest "-- <value>" with the value: keep the first sentence only,
      // and never echo a long argument (it may be a token pasted in the wrong place).
      const first = message.split('. ')[0]?.replace(/\.$/, '') ?? message;
      throw new CliUsageError(first.replace(/'[^']{40,}'/g, "'…'"), command);
    }
    throw error;
  }
}

/** The options every command takes. */
const COMMON_OPTIONS = {
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies CommandOptions;

type CommandOptions = NonNullable<ParseArgsConfig['options']>;
interface CommandArgsConfig<O extends CommandOptions> {
  args: string[];
  allowPositionals: true;
  strict: true;
  options: typeof COMMON_OPTIONS & O;
}

/**
 * Strict `parseArgs` of a command's arguments, positionals allowed, with `--json` and `-h/--help`
 * added to `options`; parse errors become usage errors naming the command.
 */
export function parseCommandArgs<const O extends CommandOptions>(
  command: string,
  args: string[],
  options: O,
): ReturnType<typeof parseArgs<CommandArgsConfig<O>>> {
  const config: CommandArgsConfig<O> = {
    args,
    allowPositionals: true,
    strict: true,
    options: { ...COMMON_OPTIONS, ...options },
  };
  return parseOrUsage(command, () => parseArgs(config));
}

/**
 * The end of the help of the commands that ask the Authorization Service: environment and exit
 * codes, with what exit code 0 (`ok`) and 1 (`no`) mean for the command.
 */
export function authzHelpFooter(ok: string, no: string): string {
  return `Environment: CERN_SSO_CLIENT_ID and CERN_SSO_CLIENT_SECRET (required), CERN_SSO_ISSUER,
CERN_SSO_AUTHZ_API_URL (see express-cern-sso --help).

Exit codes:
  0  ${ok}
  1  ${no}
  2  usage or configuration error
  3  the Authorization Service (or Keycloak) is unavailable
`;
}

/** Exactly one positional argument named `what`. */
export function onePositional(command: string, positionals: readonly string[], what: string): string {
  const [value, ...rest] = positionals;
  if (value === undefined || value.trim() === '') throw new CliUsageError(`missing ${what}`, command);
  if (rest.length > 0)
    throw new CliUsageError(`expected one ${what}, got ${positionals.length} arguments`, command);
  return value.trim();
}

/** Creates the lazily built identity provider of a run, and its closer. */
export function lazyIdentity(
  settings: CliSettings,
  logger: Logger,
): { get: () => IdentityProvider; close: () => Promise<void> } {
  let identity: IdentityProvider | undefined;
  return {
    get: () => (identity ??= identityFromSettings(settings, logger)),
    close: async () => {
      await identity?.close();
    },
  };
}
