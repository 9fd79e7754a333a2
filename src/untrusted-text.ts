/**
 * Text that comes from outside (upstream error bodies, client input, error messages) made safe
 * for logs and messages: cut to a bounded length first, then control characters escaped and
 * secrets redacted, all in time linear in the (already bounded) length. No regular expression
 * here has nested quantifiers or overlapping alternatives, and none runs on uncut input.
 */

/** Longest logged string (a message or a string argument), in UTF-16 code units. */
export const MAX_LOG_TEXT = 4096;

/** Marker put where a secret was. Its brackets end any token-character run around it. */
export const REDACTED = '[redacted]';

const ELLIPSIS = '…';

/**
 * Characters that must never reach a log line or a header: C0 controls (CR, LF, ESC...), DEL,
 * C1 controls, the Unicode line and paragraph separators, and the bidi embeddings, overrides and
 * isolates (which reorder what a reader sees). One code unit each.
 */
export function isUnsafeCodeUnit(code: number): boolean {
  return (
    code <= 0x1f ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x2028 ||
    code === 0x2029 ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;

/** True when `text` has an unsafe character ({@link isUnsafeCodeUnit}) or a lone surrogate. */
export function hasUnsafeText(text: string): boolean {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (isUnsafeCodeUnit(code)) return true;
    if (isHighSurrogate(code)) {
      if (!isLowSurrogate(text.charCodeAt(index + 1))) return true;
      index++;
    } else if (isLowSurrogate(code)) {
      return true;
    }
  }
  return false;
}

/**
 * The first `max` code units of `text` (never splitting a surrogate pair), with `…` appended
 * when something was cut. The result is at most `max + 1` long.
 */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = max > 0 && isHighSurrogate(text.charCodeAt(max - 1)) ? max - 1 : max;
  return text.slice(0, end) + ELLIPSIS;
}

const NAMED_ESCAPES = new Map<number, string>([
  [0x09, '<TAB>'],
  [0x0a, '<LF>'],
  [0x0d, '<CR>'],
]);

/**
 * `<CR>`, `<LF>`, `<TAB>`, else `<U+XXXX>`: the angle brackets keep an escape from joining the
 * characters around it into something token-shaped (and redaction from eating part of it).
 */
function escapeCodeUnit(code: number): string {
  return NAMED_ESCAPES.get(code) ?? `<U+${code.toString(16).toUpperCase().padStart(4, '0')}>`;
}

/**
 * Unsafe characters and lone surrogates written as visible escapes (`<CR>`, `<LF>`, `<U+001B>`,
 * `<U+202E>`, `<U+D800>`), so a log line stays one line and reads as what was sent. One pass.
 */
export function escapeUnsafe(text: string): string {
  let out = '';
  let start = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    let unsafe = isUnsafeCodeUnit(code);
    if (!unsafe && isHighSurrogate(code)) {
      if (isLowSurrogate(text.charCodeAt(index + 1))) {
        index++;
        continue;
      }
      unsafe = true;
    } else if (!unsafe && isLowSurrogate(code)) {
      unsafe = true;
    }
    if (!unsafe) continue;
    out += text.slice(start, index) + escapeCodeUnit(code);
    start = index + 1;
  }
  return start === 0 ? text : out + text.slice(start);
}

// Character classes as lookup tables: one array index per character, no regex backtracking.
const BASE64URL = new Uint8Array(128);
for (const char of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_') {
  BASE64URL[char.charCodeAt(0)] = 1;
}
const isBase64Url = (code: number): boolean => code < 128 && BASE64URL[code] === 1;
const isJwtChar = (code: number): boolean => isBase64Url(code) || code === 0x2e; // '.'
/** Characters of opaque tokens: base64url, standard base64 without `/`, and `~`. */
const isOpaqueChar = (code: number): boolean =>
  isBase64Url(code) || code === 0x2b || code === 0x3d || code === 0x7e; // + = ~
const isOpaqueOrSlash = (code: number): boolean => isOpaqueChar(code) || code === 0x2f; // '/'

/**
 * Replaces every maximal run of characters of `inRun` that `secret(run)` accepts with
 * {@link REDACTED}. Linear: each character is looked at a bounded number of times.
 */
function redactRuns(
  text: string,
  inRun: (code: number) => boolean,
  secret: (run: string) => boolean,
): string {
  let out = '';
  let copied = 0;
  let index = 0;
  while (index < text.length) {
    if (!inRun(text.charCodeAt(index))) {
      index++;
      continue;
    }
    const start = index;
    while (index < text.length && inRun(text.charCodeAt(index))) index++;
    const run = text.slice(start, index);
    if (secret(run)) {
      out += text.slice(copied, start) + REDACTED;
      copied = index;
    }
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * A run of base64url characters and dots containing a JWT-shaped part: `eyJ` (a JSON header
 * `{"`), further base64url characters, a dot, and at least one base64url character. Checked on
 * the dot-separated segments, so the whole run is one linear pass.
 */
function containsJwt(run: string): boolean {
  const segments = run.split('.');
  return segments.some((segment, index) => segment.includes('eyJ') && (segments[index + 1] ?? '') !== '');
}

/** Random-looking: digits and both letter cases, unlike names such as `it-service-admins`. */
function looksRandom(text: string): boolean {
  let digit = false;
  let lower = false;
  let upper = false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code >= 0x30 && code <= 0x39) digit = true;
    else if (code >= 0x61 && code <= 0x7a) lower = true;
    else if (code >= 0x41 && code <= 0x5a) upper = true;
  }
  return digit && lower && upper;
}

/** Opaque tokens: at least this long and random-looking. */
const MIN_OPAQUE_LENGTH = 32;
const isOpaqueSecret = (run: string): boolean => run.length >= MIN_OPAQUE_LENGTH && looksRandom(run);

// Each pattern starts at a literal word, has one bounded separator and one run of a class
// disjoint from what follows it: no nested or overlapping quantifiers, so matching is linear.
// Values never start with `[`, so an already redacted text is left as it is.
/** `Bearer <token68>` / `Basic <token68>` (8+ characters, so prose like "bearer token" stays). */
const SCHEME_VALUE = /\b(bearer|basic)(\s{1,16})[A-Za-z0-9\-._~+/]{8,}=*/gi;
const VALUE = `[^\\s"',;&()\\[\\]{}<>]+`;
/** Secret-bearing parameter names, in `name=value`, `name: value` and JSON `"name":"value"` forms. */
const NAMED_SECRET = new RegExp(
  `\\b(access_token|refresh_token|id_token|subject_token|logout_token|client_secret|code_verifier|client_assertion|api_key|apikey)(["']?\\s{0,4}[:=]\\s{0,4}["']?)${VALUE}`,
  'gi',
);
/** Plain words, only in `name=value` or quoted JSON form (so prose like "token: expired" stays). */
const GENERIC_SECRET = new RegExp(
  `\\b(token|secret|password|passwd)(=|["']\\s{0,4}:\\s{0,4}["']?)${VALUE}`,
  'gi',
);

/** Options of {@link redactSecrets}. */
export interface RedactOptions {
  /** Also treat `/` as part of opaque tokens (standard base64). Default false: keeps paths readable. */
  slashInTokens?: boolean;
}

/**
 * Secrets replaced by {@link REDACTED}: JWT-shaped strings, the value after `Bearer`/`Basic`,
 * after `access_token=`, `refresh_token`, `client_secret`, `password=` (and JSON `"name":"..."`
 * forms), and long random-looking runs of token characters. Call it on text already cut to a
 * bounded length.
 */
export function redactSecrets(text: string, options: RedactOptions = {}): string {
  const named = text
    .replace(SCHEME_VALUE, (_match, scheme: string, space: string) => `${scheme}${space}${REDACTED}`)
    .replace(NAMED_SECRET, (_match, name: string, separator: string) => `${name}${separator}${REDACTED}`)
    .replace(GENERIC_SECRET, (_match, name: string, separator: string) => `${name}${separator}${REDACTED}`);
  const withoutJwts = redactRuns(named, isJwtChar, containsJwt);
  return redactRuns(
    withoutJwts,
    options.slashInTokens === true ? isOpaqueOrSlash : isOpaqueChar,
    isOpaqueSecret,
  );
}

/**
 * A string safe to log: cut to `max` code units, unsafe characters escaped, secrets redacted,
 * and cut again (escapes lengthen the text). At most `max + 1` long; idempotent.
 */
export function sanitizeLogText(text: string, max = MAX_LOG_TEXT): string {
  const safe = redactSecrets(escapeUnsafe(cutText(text, max)));
  return cutText(safe, max);
}

/** Upstream text is cut to this many characters before anything else looks at it. */
const MAX_UPSTREAM_TEXT = 2048;
/** Longest message kept. */
const MAX_MESSAGE = 200;

/**
 * An upstream message safe to show: cut to 2048 characters first, control characters (line
 * breaks, bidi overrides...) and runs of white space turned into one space, token-like substrings
 * removed, at most 200 characters. Linear in the input length. For messages of Keycloak and the
 * AuthZ API (`error_description`, `{ message }`).
 */
export function sanitizeUpstreamMessage(message: unknown): string {
  if (typeof message !== 'string') return '';
  let flat = '';
  let space = false;
  const cut = cutText(message, MAX_UPSTREAM_TEXT);
  for (let index = 0; index < cut.length; index++) {
    const code = cut.charCodeAt(index);
    // Lone surrogates too: they would come out as U+FFFD in JSON and headers.
    const blank = isUnsafeCodeUnit(code) || WHITE_SPACE.has(code) || isLoneSurrogate(cut, index);
    if (blank) {
      space = true;
      continue;
    }
    if (space && flat !== '') flat += ' ';
    space = false;
    flat += cut.charAt(index);
  }
  const cleaned = redactSecrets(flat, { slashInTokens: true });
  if (cleaned.length <= MAX_MESSAGE) return cleaned;
  // cutText never splits a surrogate pair; its ellipsis is replaced by ASCII dots.
  return `${cutText(cleaned, MAX_MESSAGE - 3).slice(0, -1)}...`;
}

/** White space other than the unsafe characters (which are blanked anyway). */
const WHITE_SPACE = new Set([0x20, 0xa0, 0x1680, 0x202f, 0x205f, 0x3000, 0xfeff, ...range(0x2000, 0x200a)]);

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, offset) => from + offset);
}

function isLoneSurrogate(text: string, index: number): boolean {
  const code = text.charCodeAt(index);
  if (isHighSurrogate(code)) return !isLowSurrogate(text.charCodeAt(index + 1));
  if (isLowSurrogate(code)) return !isHighSurrogate(text.charCodeAt(index - 1));
  return false;
}
