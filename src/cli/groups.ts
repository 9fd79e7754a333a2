import {
  authzHelpFooter,
  onePositional,
  parseCommandArgs,
  type Command,
  type CommandContext,
} from './command.js';
import { EXIT } from './errors.js';
import { clean, plural, sortedNames, toJson } from './output.js';

const NAME = 'groups';

export const HELP = `Usage: express-cern-sso groups LOGIN [options]

Lists the e-groups a person is in, nested groups included (the Authorization Service's
precomputed memberships: what requireGroup() sees), in alphabetical order.

Options:
  --json       { login, found, groups }
  -h, --help   Show this help

${authzHelpFooter('the user exists (possibly in no group)', 'no such user')}`;

async function run(args: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(NAME, args, {});
  const login = onePositional(NAME, positionals, 'LOGIN');
  const identity = context.identity();
  // An unknown login simply has no groups: ask for the identity too, to tell the two apart.
  const [user, groups] = await Promise.all([identity.getUser(login), identity.getUserGroups(login)]);
  const found = user !== null || groups.length > 0;
  const sorted = sortedNames(groups);
  const { stdout, stderr } = context.io;
  if (values.json) {
    stdout.write(toJson({ login, found, groups: sorted }));
  } else if (!found) {
    stderr.write(`express-cern-sso groups: no such user: ${clean(login)}\n`);
  } else {
    stdout.write(`${clean(login)}: ${plural(sorted.length, 'group')} (nested groups included)\n`);
    for (const group of sorted) stdout.write(`  ${clean(group)}\n`);
  }
  return found ? EXIT.ok : EXIT.no;
}

export const groupsCommand: Command = {
  name: NAME,
  summary: "List a person's e-groups (nested groups included)",
  help: HELP,
  run,
};
