import { userFromClaims, type CernUser } from '../auth/user.js';
import { cleanGroupNames } from '../auth/group-names.js';
import type { Command, CommandContext } from './command.js';
import { parseCommandArgs } from './command.js';
import { clientCredentials, ENV, envValue, missingProblems, splitList } from './env.js';
import { asCliConfigError, CliUsageError, EXIT, exitCodeFor, failureMessage } from './errors.js';
import {
  clean,
  describeExpiry,
  formatEpoch,
  formatValue,
  keyValues,
  plural,
  sortedNames,
  toJson,
} from './output.js';
import { inspectToken, type TokenInspection } from './verify-token.js';

const NAME = 'token inspect';

/** Longest token read from stdin (far above any real access token). */
const MAX_TOKEN_BYTES = 64 * 1024;

/** Claims shown as dates. */
const TIME_CLAIMS = new Set(['exp', 'iat', 'nbf', 'auth_time']);

/** Allowed clock skew, as `bearerAuth()`'s default. */
const CLOCK_TOLERANCE_SEC = 30;

export const HELP = `Usage: express-cern-sso token inspect [TOKEN | -] [options]

Decodes an access token, verifies it against the issuer as bearerAuth() does (signature with
the issuer's published keys (JWKS), issuer, expiry and not-before with 30 s of clock
tolerance, token type, and the audience when one is given), and shows its claims, how long it
remains valid, the user and the user's groups. The token itself is never printed.

Where the token comes from, first found:
  TOKEN             the argument (note: visible to other users of the machine in "ps")
  -                 read from standard input
  ACCESS_TOKEN      the environment variable
A leading "Bearer " (or "Authorization: Bearer ") is ignored.

Groups: the token's "groups" claim when it has one; otherwise they are looked up in the CERN
Authorization Service when CERN_SSO_CLIENT_ID and CERN_SSO_CLIENT_SECRET are set.

Options:
  --audience AUD    The audience (aud) the token must have; repeatable. Default: CERN_SSO_AUDIENCE
                    (comma-separated). Without one, the audience is not checked (and the output
                    says so).
  --json            One JSON object: { valid, errors, header, claims, expiresInSec, user, groups,
                    groupsSource, audienceChecked, warnings }
  -h, --help        Show this help

Environment:
  CERN_SSO_ISSUER         Trusted issuer (default https://auth.cern.ch/auth/realms/cern)
  CERN_SSO_AUDIENCE       Expected audience(s)
  CERN_SSO_CLIENT_ID, CERN_SSO_CLIENT_SECRET
                          Optional: group lookup, and introspection of opaque tokens
  CERN_SSO_AUTHZ_API_URL  Authorization Service API (default https://authorization-service-api.web.cern.ch)

Exit codes:
  0  the token is valid
  1  the token is invalid (expired, wrong audience, bad signature, not a token...)
  2  usage or configuration error
  3  the issuer (keys, introspection) or the Authorization Service is unavailable

Examples:
  ACCESS_TOKEN=eyJ... express-cern-sso token inspect --audience my-api
  pbpaste | express-cern-sso token inspect - --json | jq .claims
`;

/** The `--json` document. */
interface InspectReport {
  valid: boolean;
  errors: string[];
  header: Record<string, unknown> | null;
  claims: Record<string, unknown> | null;
  /** Seconds until `exp` (negative when expired), `null` without `exp`. */
  expiresInSec: number | null;
  user: CernUser | null;
  groups: string[] | null;
  /** `claim` (the token's groups claim), `authz` (the Authorization Service) or `null`. */
  groupsSource: 'claim' | 'authz' | null;
  audienceChecked: boolean;
  /** Things the output could not tell (audience not checked, groups unavailable...). */
  warnings: string[];
}

async function readStdin(stdin: AsyncIterable<string | Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk);
    size += buffer.length;
    if (size > MAX_TOKEN_BYTES) throw new CliUsageError('standard input is too large for a token', NAME);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Trims and drops an `Authorization: Bearer ` prefix. */
function normalizeToken(raw: string): string {
  return raw
    .trim()
    .replace(/^(?:authorization:\s*)?bearer\s+/i, '')
    .trim();
}

async function tokenFrom(positionals: readonly string[], context: CommandContext): Promise<string> {
  if (positionals.length > 1) {
    // Never echo the arguments: one of them may be the token.
    throw new CliUsageError(`expected at most one TOKEN argument, got ${positionals.length}`, NAME);
  }
  const [argument] = positionals;
  let raw: string | undefined;
  if (argument === '-') {
    if (!context.io.stdin) throw new CliUsageError('no standard input to read the token from', NAME);
    raw = await readStdin(context.io.stdin);
    if (raw.trim() === '') throw new CliUsageError('standard input is empty: no token to inspect', NAME);
  } else if (argument !== undefined) {
    raw = argument;
  } else {
    raw = envValue(context.io.env, ENV.accessToken);
  }
  if (raw === undefined || raw.trim() === '') {
    throw new CliUsageError(
      `no token: pass TOKEN, "-" to read it from standard input, or set ${ENV.accessToken}`,
      NAME,
    );
  }
  const token = normalizeToken(raw);
  if (token === '') throw new CliUsageError('the token is empty', NAME);
  if (/\s/.test(token)) {
    throw new CliUsageError('the token contains whitespace: pass one token (a JWT has no spaces)', NAME);
  }
  return token;
}

interface GroupsOutcome {
  groups: string[] | null;
  source: InspectReport['groupsSource'];
  warnings: string[];
  /** An exit code forced by a failed lookup (2 or 3), else `undefined`. */
  exitCode: number | undefined;
}

async function findGroups(
  inspection: TokenInspection,
  user: CernUser | undefined,
  context: CommandContext,
): Promise<GroupsOutcome> {
  const claims = inspection.claims;
  if (claims && Array.isArray(claims.groups)) {
    return {
      groups: sortedNames(cleanGroupNames(claims.groups)),
      source: 'claim',
      warnings: inspection.valid ? [] : ["groups: from the token's groups claim, which was not verified"],
      exitCode: undefined,
    };
  }
  const none = (warning: string): GroupsOutcome => ({
    groups: null,
    source: null,
    warnings: [warning],
    exitCode: undefined,
  });
  if (!inspection.valid) return none('groups: not looked up, the token is not valid');
  if (!user) return none('groups: not looked up, the token names no user (no sub)');
  const credentials = clientCredentials(context.settings);
  if ('missing' in credentials) {
    return none(
      'groups: the token has no groups claim; to look them up in the CERN Authorization Service, ' +
        `set ${credentials.missing.join(' and ')} (an application allowed to use the Authorization Service API)`,
    );
  }
  try {
    const groups = await context.identity().getUserGroups(user.login);
    return { groups: sortedNames(groups), source: 'authz', warnings: [], exitCode: undefined };
  } catch (error) {
    return {
      groups: null,
      source: null,
      warnings: [`groups: could not be looked up: ${failureMessage(error).split('\n').join(' ')}`],
      exitCode: exitCodeFor(error),
    };
  }
}

function expiresIn(claims: Record<string, unknown> | null, nowMs: number): number | null {
  const exp = claims?.exp;
  return typeof exp === 'number' && Number.isFinite(exp) ? Math.round(exp - nowMs / 1000) : null;
}

function renderText(report: InspectReport, audiences: readonly string[] | undefined): string {
  const lines: string[] = [];
  if (report.valid) {
    const audience = report.audienceChecked
      ? `audience ${(audiences ?? []).map((value) => `"${value}"`).join(' or ')}`
      : 'audience NOT checked';
    lines.push(`Token: VALID (signature, issuer, expiry, token type; ${audience})`);
  } else {
    lines.push('Token: INVALID');
    for (const error of report.errors) lines.push(`  - ${clean(error)}`);
  }
  if (report.expiresInSec !== null) {
    let validity = describeExpiry(report.expiresInSec);
    if (report.expiresInSec <= 0 && report.expiresInSec > -CLOCK_TOLERANCE_SEC && report.valid) {
      validity += ` (still accepted: ${CLOCK_TOLERANCE_SEC} s of clock tolerance)`;
    }
    lines.push(`Validity: ${validity}`);
  }
  for (const warning of report.warnings) lines.push(`Note: ${clean(warning)}`);

  if (report.header) {
    lines.push('', 'Header');
    lines.push(
      keyValues(
        Object.entries(report.header).map(([key, value]) => [key, formatValue(value)] as const),
        '  ',
      ).trimEnd(),
    );
  }
  if (report.claims) {
    lines.push('', report.valid ? 'Claims' : 'Claims (NOT verified)');
    lines.push(
      keyValues(
        Object.entries(report.claims).map(([key, value]) => {
          const date = TIME_CLAIMS.has(key) ? formatEpoch(value) : undefined;
          return [key, date === undefined ? formatValue(value) : `${formatValue(value)} (${date})`] as const;
        }),
        '  ',
      ).trimEnd(),
    );
  }
  if (report.user) {
    const user = report.user;
    lines.push('', report.valid ? 'User' : 'User (NOT verified)');
    lines.push(
      keyValues(
        [
          ['login', user.login],
          [
            'name',
            user.displayName ?? ([user.firstName, user.lastName].filter(Boolean).join(' ') || undefined),
          ],
          ['email', user.email],
          ['person id', user.personId === undefined ? undefined : String(user.personId)],
          ['language', user.preferredLanguage],
          ['roles', user.roles.length === 0 ? '(none)' : user.roles.join(', ')],
        ],
        '  ',
      ).trimEnd(),
    );
  }
  if (report.groups) {
    const source =
      report.groupsSource === 'claim' ? "the token's groups claim" : 'the CERN Authorization Service';
    lines.push('', `Groups: ${plural(report.groups.length, 'group')} (from ${source})`);
    for (const group of report.groups) lines.push(`  ${clean(group)}`);
  }
  return `${lines.join('\n')}\n`;
}

async function run(args: string[], context: CommandContext): Promise<number> {
  const { values, positionals } = parseCommandArgs(NAME, args, {
    audience: { type: 'string', multiple: true },
  });
  const token = await tokenFrom(positionals, context);
  const fromFlag = (values.audience ?? []).flatMap(splitList);
  const audiences = fromFlag.length > 0 ? fromFlag : context.settings.audiences;
  const credentials = clientCredentials(context.settings);

  const started = Date.now();
  const inspection = await inspectToken(token, {
    issuer: context.settings.issuer,
    audiences,
    client: 'missing' in credentials ? undefined : credentials,
    clockToleranceSec: CLOCK_TOLERANCE_SEC,
    logger: context.logger,
  }).catch((error: unknown) => {
    throw asCliConfigError(error);
  });
  const user = userFromClaims(inspection.claims ?? undefined);
  const groups = await findGroups(inspection, user, context);
  const warnings: string[] = [];
  if (!inspection.audienceChecked && inspection.checkedBy !== null && inspection.claims !== null) {
    warnings.push(
      'audience (aud): not checked; pass --audience (or set CERN_SSO_AUDIENCE) to check the token is meant for your API',
    );
  }
  if ('missing' in credentials && credentials.missing.length === 1) {
    warnings.push(...missingProblems(credentials.missing).map((problem) => `configuration: ${problem}`));
  }
  const report: InspectReport = {
    valid: inspection.valid,
    errors: inspection.errors,
    header: inspection.header,
    claims: inspection.claims,
    expiresInSec: expiresIn(inspection.claims, started),
    user: user ?? null,
    groups: groups.groups,
    groupsSource: groups.source,
    audienceChecked: inspection.audienceChecked,
    warnings: [...warnings, ...groups.warnings],
  };
  context.io.stdout.write(values.json ? toJson(report) : renderText(report, audiences));
  if (!inspection.valid) return EXIT.no;
  return groups.exitCode ?? EXIT.ok;
}

export const tokenInspectCommand: Command = {
  name: NAME,
  summary: 'Decode and verify an access token; show its claims, validity, user and groups',
  help: HELP,
  run,
};
