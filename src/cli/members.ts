import { sameGroup } from '../auth/group-names.js';
import {
  authzHelpFooter,
  onePositional,
  parseCommandArgs,
  type Command,
  type CommandContext,
} from './command.js';
import { EXIT } from './errors.js';
import { clean, identityTable, plural, sortedIdentities, toJson } from './output.js';

const NAME = 'members';

export const HELP = `Usage: express-cern-sso members GROUP [options]

Lists the members of an e-group, members of nested groups included, ordered by login.

Options:
  --json       { group, found, count, members }
  -h, --help   Show this help

${authzHelpFooter('the group exists (possibly without members)', 'no such group')}`;

async function run(args: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(NAME, args, {});
  const group = onePositional(NAME, positionals, 'GROUP');
  const identity = context.identity();
  // An unknown group simply has no members: look the name up too, to tell the two apart.
  const [members, named] = await Promise.all([
    identity.getGroupMembers(group),
    identity.searchGroups(group, { exact: true }),
  ]);
  const found = members.length > 0 || named.some((name) => sameGroup(name, group));
  const sorted = sortedIdentities(members);
  const { stdout, stderr } = context.io;
  if (values.json) {
    stdout.write(toJson({ group, found, count: sorted.length, members: sorted }));
  } else if (!found) {
    stderr.write(`express-cern-sso members: no such group: ${clean(group)}\n`);
  } else {
    stdout.write(`${clean(group)}: ${plural(sorted.length, 'member')} (nested groups included)\n`);
    if (sorted.length > 0) stdout.write(identityTable(sorted));
  }
  return found ? EXIT.ok : EXIT.no;
}

export const membersCommand: Command = {
  name: NAME,
  summary: 'List the members of an e-group (nested groups included)',
  help: HELP,
  run,
};
