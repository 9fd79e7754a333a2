import { readFileSync } from 'node:fs';
import { formatLogLine, normalizeLogger, silentLogger, type Logger } from '../logger.js';
import { lazyIdentity, wantsHelp, type CliIo, type Command, type CommandContext } from './command.js';
import { readSettings } from './env.js';
import { CliConfigError, CliUsageError, debugDetails, EXIT, exitCodeFor, failureMessage } from './errors.js';
import { groupsCommand } from './groups.js';
import { membersCommand } from './members.js';
import type { Output } from './output.js';
import { searchCommand } from './search.js';
import { tokenInspectCommand } from './token-inspect.js';
import { userCommand } from './user.js';

export type { CliIo } from './command.js';
export { inspectToken, type InspectTokenOptions, type TokenInspection } from './verify-token.js';

const PROGRAM = 'express-cern-sso';

/** Every command, in the order of the help. */
const COMMANDS: readonly Command[] = [
  tokenInspectCommand,
  userCommand,
  groupsCommand,
  searchCommand,
  membersCommand,
];

const EXIT_CODES = `Exit codes:
  0  OK
  1  The answer is "no": invalid token, unknown user or group, no match
  2  Usage or configuration error (unknown option, missing environment variable...)
  3  Upstream unavailable: Keycloak or the Authorization Service did not answer (503); retry later
  4  Unexpected error (a bug: rerun with CERN_SSO_DEBUG=1 and report it)`;

function mainHelp(): string {
  const width = Math.max('help [COMMAND]'.length, ...COMMANDS.map((command) => command.name.length)) + 2;
  const list = COMMANDS.map((command) => `  ${command.name.padEnd(width)}${command.summary}`).join('\n');
  return `Usage: ${PROGRAM} <command> [options]

Inspect CERN SSO access tokens and query the CERN Authorization Service (users, e-groups) from a
terminal, with the same configuration as the express-cern-sso library.

Commands:
${list}
  ${'help [COMMAND]'.padEnd(width)}Show the help of a command

Options:
  -h, --help     Show help (also after any command: ${PROGRAM} search --help)
  --version      Print the version
  --json         On every command: machine-readable output (JSON on stdout)

Environment:
  CERN_SSO_CLIENT_ID       Client id of an application registered in the CERN Application Portal
  CERN_SSO_CLIENT_SECRET   Its secret (never printed). Both required by user, groups, search,
                           members; optional for token inspect (group lookup). The application
                           must be allowed to use the Authorization Service API.
  CERN_SSO_ISSUER          Default https://auth.cern.ch/auth/realms/cern
  CERN_SSO_AUTHZ_API_URL   Default https://authorization-service-api.web.cern.ch
  CERN_SSO_AUDIENCE        Audience token inspect checks (comma-separated)
  ACCESS_TOKEN             Token for token inspect when no argument is given
  CERN_SSO_DEBUG=1         Library logs and stack traces on stderr

${EXIT_CODES}

Examples:
  ${PROGRAM} token inspect - < token.txt
  ${PROGRAM} groups jdoe
  ${PROGRAM} search "john doe" --limit 5
  ${PROGRAM} members it-dep-admins --json
`;
}

const TOKEN_HELP = `Usage: ${PROGRAM} token <subcommand>

Subcommands:
  inspect [TOKEN | -]   ${tokenInspectCommand.summary}

Run "${PROGRAM} token inspect --help" for details.
`;

function readVersion(): string {
  try {
    const manifest: unknown = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    );
    const version = (manifest as { version?: unknown } | null)?.version;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Library logs on stderr with `CERN_SSO_DEBUG=1`, else nothing (errors are reported once, by the CLI). */
function cliLogger(stderr: Output, debug: boolean): Logger {
  if (!debug) return silentLogger;
  const log =
    (level: string) =>
    (fields: Record<string, unknown> | string, message?: string): void => {
      const line = typeof fields === 'string' ? fields : formatLogLine(fields, message ?? '');
      stderr.write(`[${PROGRAM}] ${level}: ${line}\n`);
    };
  return normalizeLogger({ debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') });
}

function findCommand(name: string): Command | undefined {
  return COMMANDS.find((command) => command.name === name);
}

/** The help text for `help ...` words, or a usage error. */
function helpFor(words: readonly string[]): string {
  const name = words.join(' ').trim();
  if (name === '') return mainHelp();
  if (name === 'token') return TOKEN_HELP;
  if (name === 'help') return mainHelp();
  const command = findCommand(name);
  if (!command) throw new CliUsageError(`unknown command "${name}"`);
  return command.help;
}

interface Resolved {
  command: Command;
  args: string[];
}

/** The command named by `argv`, or a number (exit code) when only help or the version was asked. */
function resolve(argv: readonly string[], io: CliIo): Resolved | number {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.stderr.write(mainHelp());
    return EXIT.usage;
  }
  if (first === '-h' || first === '--help') {
    io.stdout.write(mainHelp());
    return EXIT.ok;
  }
  if (first === '--version' || first === '-V') {
    io.stdout.write(`${readVersion()}\n`);
    return EXIT.ok;
  }
  if (first === 'help') {
    io.stdout.write(helpFor(rest));
    return EXIT.ok;
  }
  if (first === 'token') {
    const [sub, ...args] = rest;
    if (sub === '-h' || sub === '--help') {
      io.stdout.write(TOKEN_HELP);
      return EXIT.ok;
    }
    if (sub === undefined) throw new CliUsageError('missing subcommand (inspect)', 'token');
    if (sub !== 'inspect')
      throw new CliUsageError(`unknown subcommand "${sub.slice(0, 40)}" (expected inspect)`, 'token');
    return { command: tokenInspectCommand, args };
  }
  if (first.startsWith('-'))
    throw new CliUsageError(`unknown option "${first.slice(0, 40)}" (options go after the command)`);
  const command = findCommand(first);
  if (!command) throw new CliUsageError(`unknown command "${first.slice(0, 40)}"`);
  return { command, args: rest };
}

/**
 * Runs `express-cern-sso` with `argv` (without `node` and the script) and resolves to the exit
 * code. Never rejects: failures are reported on `io.stderr` with a one-line reason (stack traces
 * only with `CERN_SSO_DEBUG=1`) and mapped to an exit code (see the help). Every connection it
 * opened is released before it resolves.
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let settings;
  try {
    settings = readSettings(io.env);
  } catch (error) {
    io.stderr.write(`${PROGRAM}: ${failureMessage(error)}\n`);
    return EXIT.internal;
  }
  const logger = cliLogger(io.stderr, settings.debug);
  const identity = lazyIdentity(settings, logger);
  let commandName: string | undefined;
  try {
    const resolved = resolve(argv, io);
    if (typeof resolved === 'number') return resolved;
    const { command, args } = resolved;
    commandName = command.name;
    if (wantsHelp(args)) {
      io.stdout.write(command.help);
      return EXIT.ok;
    }
    const context: CommandContext = { io, settings, logger, identity: identity.get };
    return await command.run(args, context);
  } catch (error) {
    const where = error instanceof CliUsageError && error.command !== undefined ? error.command : commandName;
    const prefix = where === undefined ? PROGRAM : `${PROGRAM} ${where}`;
    io.stderr.write(`${prefix}: ${failureMessage(error)}\n`);
    if (error instanceof CliUsageError) io.stderr.write(`Run "${prefix} --help" for usage.\n`);
    if (error instanceof CliConfigError)
      io.stderr.write(`Run "${PROGRAM} --help" for the environment variables.\n`);
    if (settings.debug) io.stderr.write(`${debugDetails(error)}\n`);
    return exitCodeFor(error);
  } finally {
    await identity.close().catch(() => undefined);
  }
}
