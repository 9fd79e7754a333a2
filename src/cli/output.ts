import type { CernIdentity } from '../identity/types.js';

/** Where the CLI writes (process streams, or buffers in tests). */
export interface Output {
  write(chunk: string): unknown;
}

// Terminal control characters (ANSI escapes, carriage returns, line separators, bidi overrides
// that reorder what is shown) in data from a token or the API must not reach the terminal: they
// are shown as `?`. One character class: linear.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** A value safe to print on one line. */
export function clean(value: string): string {
  return value.replace(CONTROL, '?');
}

/** `value` as pretty JSON plus a newline. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** Display width of a string: its graphemes (good enough for names and logins). */
function width(text: string): number {
  let count = 0;
  for (const _ of graphemes.segment(text)) count += 1;
  return count;
}

function pad(text: string, size: number): string {
  return text + ' '.repeat(Math.max(0, size - width(text)));
}

/** An aligned table with a header row; cells are cleaned, empty cells shown as `-`. */
export function table(
  headers: readonly string[],
  rows: readonly (readonly (string | undefined)[])[],
): string {
  const cells = rows.map((row) => headers.map((_, index) => clean(row[index] ?? '') || '-'));
  const widths = headers.map((header, index) =>
    Math.max(width(header), ...cells.map((row) => width(row[index] ?? ''))),
  );
  const line = (row: readonly string[]): string =>
    row
      .map((cell, index) => (index === row.length - 1 ? cell : pad(cell, widths[index] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].map((text) => `${text}\n`).join('');
}

/** `key  value` lines, keys aligned; pairs without a value are skipped. */
export function keyValues(pairs: readonly (readonly [string, string | undefined])[], indent = ''): string {
  const shown = pairs
    .filter((pair): pair is readonly [string, string] => pair[1] !== undefined)
    .map(([key, value]) => [clean(key), value] as const);
  const size = Math.max(0, ...shown.map(([key]) => width(key)));
  return shown.map(([key, value]) => `${indent}${pad(key, size)}  ${clean(value)}\n`).join('');
}

/** `4 min 12 s`, `3 min`, `2 h 5 min`, `3 d 4 h`, `0 s`: the two largest non-zero units. */
export function formatDuration(totalSeconds: number): string {
  const seconds = Math.round(Math.abs(totalSeconds));
  const units: [number, string][] = [
    [Math.floor(seconds / 86_400), 'd'],
    [Math.floor((seconds % 86_400) / 3600), 'h'],
    [Math.floor((seconds % 3600) / 60), 'min'],
    [seconds % 60, 's'],
  ];
  const first = units.findIndex(([count]) => count > 0);
  if (first < 0) return '0 s';
  return units
    .slice(first, first + 2)
    .filter(([count]) => count > 0)
    .map(([count, unit]) => `${count} ${unit}`)
    .join(' ');
}

/** `expires in 4 min 12 s` or `expired 3 min ago`. */
export function describeExpiry(expiresInSec: number): string {
  return expiresInSec > 0
    ? `expires in ${formatDuration(expiresInSec)}`
    : `expired ${formatDuration(expiresInSec)} ago`;
}

/** An epoch-seconds claim (`exp`, `iat`...) as an ISO date. */
export function formatEpoch(value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  const date = new Date(value * 1000);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString().replace('.000Z', 'Z');
}

/** One line for any JSON value: strings as is, lists comma-separated, objects as JSON. */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value.join(', ');
  if (value === undefined) return '';
  return JSON.stringify(value);
}

/** `1 user`, `3 users`. */
export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}

/** The name to show for an identity. */
export function identityName(identity: CernIdentity): string | undefined {
  const fromParts = [identity.firstName, identity.lastName].filter(Boolean).join(' ');
  return identity.displayName ?? (fromParts === '' ? undefined : fromParts);
}

/** People as a table: login, name, email, person id, affiliation. */
export function identityTable(identities: readonly CernIdentity[]): string {
  return table(
    ['LOGIN', 'NAME', 'EMAIL', 'PERSON ID', 'AFFILIATION'],
    identities.map((identity) => [
      identity.login,
      identityName(identity),
      identity.email,
      identity.personId === undefined ? undefined : String(identity.personId),
      identity.affiliation,
    ]),
  );
}

/** Case-insensitive alphabetical order (a copy). */
export function sortedNames(names: readonly string[]): string[] {
  return [...names].sort((a, b) => a.localeCompare(b, 'en', { sensitivity: 'base' }));
}

/** Identities ordered by login (a copy). */
export function sortedIdentities(identities: readonly CernIdentity[]): CernIdentity[] {
  return [...identities].sort((a, b) => a.login.localeCompare(b.login, 'en', { sensitivity: 'base' }));
}
