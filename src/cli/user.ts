import type { CernIdentity } from '../identity/types.js';
import {
  authzHelpFooter,
  onePositional,
  parseCommandArgs,
  type Command,
  type CommandContext,
} from './command.js';
import { EXIT } from './errors.js';
import { clean, keyValues, toJson } from './output.js';

const NAME = 'user';

export const HELP = `Usage: express-cern-sso user LOGIN [options]

Shows a person's identity as the CERN Authorization Service knows it: login, name, email,
person id, affiliation and phone. eduGAIN logins may contain "/" (e.g. edugain.example.org/jdoe).

Options:
  --json       { login, found, user } (user is null when unknown)
  -h, --help   Show this help

${authzHelpFooter('found', 'no such user')}`;

/** `key value` lines for one identity. */
export function identityDetails(identity: CernIdentity): string {
  return keyValues([
    ['login', identity.login],
    ['display name', identity.displayName],
    ['first name', identity.firstName],
    ['last name', identity.lastName],
    ['email', identity.email],
    ['person id', identity.personId === undefined ? undefined : String(identity.personId)],
    ['affiliation', identity.affiliation],
    ['phone', identity.phone],
  ]);
}

async function run(args: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(NAME, args, {});
  const login = onePositional(NAME, positionals, 'LOGIN');
  const user = await context.identity().getUser(login);
  const { stdout, stderr } = context.io;
  if (values.json) {
    stdout.write(toJson({ login, found: user !== null, user }));
  } else if (user) {
    stdout.write(identityDetails(user));
  } else {
    stderr.write(`express-cern-sso user: no such user: ${clean(login)}\n`);
  }
  return user ? EXIT.ok : EXIT.no;
}

export const userCommand: Command = {
  name: NAME,
  summary: "Show a person's identity (name, email, person id...)",
  help: HELP,
  run,
};
