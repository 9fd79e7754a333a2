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

/** `WWW-Authenticate: Bearer error="…", error_description="…"`. */
export function bearerChallenge(error: string, description: string): string {
  return `Bearer error="${error}", error_description="${challengeText(description)}"`;
}
