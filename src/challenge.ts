/**
 * RFC 6750 `WWW-Authenticate: Bearer` challenges. Used by `bearerAuth()` (invalid or missing
 * tokens) and by the guards (`insufficient_scope` on bearer routes), so it lives in neither.
 */

/**
 * RFC 6750 `error_description` (and any quoted-string of the challenge) may only contain
 * %x20-21 / %x23-5B / %x5D-7E: printable ASCII without `"` and `\`.
 */
export function challengeText(text: string): string {
  return text
    .replace(/[^\x20-\x7e]/g, '?')
    .replace(/["\\]/g, "'")
    .slice(0, 400);
}

/**
 * RFC 6749 §3.3 `scope-token`: %x21 / %x23-5B / %x5D-7E (printable ASCII without space, `"` and
 * `\`). Scope names that match go into a challenge's `scope` attribute unchanged.
 */
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * `WWW-Authenticate: Bearer error="…", error_description="…"`, with RFC 6750 §3's `scope="a b"`
 * when `scopes` are given (they must be {@link SCOPE_TOKEN}s; `requireScope()` checks at start-up),
 * then the `attributes` in order (RFC 9470 §3's `acr_values` and `max_age`; values the library
 * validated, quoted as they are).
 */
export function bearerChallenge(
  error: string,
  description: string,
  scopes: readonly string[] = [],
  attributes: readonly (readonly [string, string])[] = [],
): string {
  const scope = scopes.length > 0 ? `, scope="${scopes.join(' ')}"` : '';
  const extra = attributes.map(([name, value]) => `, ${name}="${challengeText(value)}"`).join('');
  return `Bearer error="${error}", error_description="${challengeText(description)}"${scope}${extra}`;
}
