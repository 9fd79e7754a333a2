import type { CernIdentity, UserSearchField, UserSearchResult } from '../identity/types.js';
import { authzHelpFooter, parseCommandArgs, type Command, type CommandContext } from './command.js';
import { CliUsageError, EXIT } from './errors.js';
import { clean, identityTable, plural, toJson } from './output.js';

const NAME = 'search';

/** Fields `--by` accepts. */
const FIELDS = ['login', 'email', 'lastName', 'displayName', 'firstName'] as const;
type SearchField = (typeof FIELDS)[number] & UserSearchField;

/** Searched (and merged) without `--by`. */
const DEFAULT_FIELDS: readonly SearchField[] = ['login', 'displayName', 'email'];

/** Most users shown without `--limit`. */
export const DEFAULT_LIMIT = 50;

export const HELP = `Usage: express-cern-sso search QUERY [options]

Searches people (type Person) in the CERN Authorization Service. By default QUERY is matched
against the login OR the display name OR the email (three searches, merged); matching is
case-insensitive and on substrings unless --exact is given. Several words form one QUERY
("search John Doe" searches "John Doe").

Options:
  --by FIELD   Search one field only: ${FIELDS.join(', ')}
  --exact      Match whole values instead of substrings
  --limit N    Show at most N people (default ${DEFAULT_LIMIT})
  --json       { query, fields, exact, limit, total, more, users }
  -h, --help   Show this help

${authzHelpFooter('at least one match', 'no match')}
Examples:
  express-cern-sso search doe
  express-cern-sso search --exact --by login jdoe
  express-cern-sso search --by email @cern.ch --limit 10 --json
`;

function parseLimit(value: string | undefined): number {
  if (value === undefined) return DEFAULT_LIMIT;
  const trimmed = value.trim();
  const limit = /^\d{1,9}$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new CliUsageError(`--limit must be a positive integer, got "${clean(value)}"`, NAME);
  }
  return limit;
}

function parseField(value: string | undefined): SearchField | undefined {
  if (value === undefined) return undefined;
  const field = FIELDS.find((name) => name.toLowerCase() === value.trim().toLowerCase());
  if (!field)
    throw new CliUsageError(`--by must be one of ${FIELDS.join(', ')}, got "${clean(value)}"`, NAME);
  return field;
}

/** Merges the results of several searches: distinct logins, first seen first, at most `limit`. */
function merge(
  results: readonly UserSearchResult[],
  limit: number,
): { users: CernIdentity[]; total: number; more: boolean } {
  const seen = new Map<string, CernIdentity>();
  for (const result of results) {
    for (const user of result.users) {
      const key = user.login.toLowerCase();
      if (!seen.has(key)) seen.set(key, user);
    }
  }
  const all = [...seen.values()];
  const cutShort = results.some((result) => result.total > result.users.length);
  const total = Math.max(all.length, ...results.map((result) => result.total));
  return { users: all.slice(0, limit), total, more: cutShort || all.length > limit };
}

async function run(args: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(NAME, args, {
    by: { type: 'string' },
    exact: { type: 'boolean', default: false },
    limit: { type: 'string' },
  });
  const query = positionals.join(' ').trim();
  if (query === '') throw new CliUsageError('missing QUERY', NAME);
  const field = parseField(values.by);
  const limit = parseLimit(values.limit);
  const fields = field === undefined ? DEFAULT_FIELDS : [field];
  const identity = context.identity();
  const results = await Promise.all(
    fields.map((name) => identity.searchUsers({ [name]: query }, { exact: values.exact, limit })),
  );
  const { users, total, more } = merge(results, limit);
  const { stdout } = context.io;
  if (values.json) {
    stdout.write(toJson({ query, fields, exact: values.exact, limit, total, more, users }));
  } else if (users.length === 0) {
    const how = values.exact ? 'exactly matching' : 'matching';
    context.io.stderr.write(
      `express-cern-sso search: nobody ${how} "${clean(query)}" (searched: ${fields.join(', ')})\n`,
    );
  } else {
    stdout.write(identityTable(users));
    stdout.write(
      more
        ? `${plural(users.length, 'person', 'people')} shown, at least ${total} match: narrow the query or raise --limit\n`
        : `${plural(users.length, 'person', 'people')}\n`,
    );
  }
  return users.length > 0 ? EXIT.ok : EXIT.no;
}

export const searchCommand: Command = {
  name: NAME,
  summary: 'Search people by login, display name or email',
  help: HELP,
  run,
};
