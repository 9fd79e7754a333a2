import { hkdfSync } from 'node:crypto';

/**
 * HKDF-SHA256 labels of the login cookie key. Fixed and documented (README, "Login cookie"):
 * instances that share the secret derive the same key, and the key serves no other purpose.
 */
export const LOGIN_KEY_SALT = 'express-cern-sso';
export const LOGIN_KEY_INFO = 'express-cern-sso login cookie v1';

/** 256 bits for `dir` + `A256GCM`. */
const KEY_BYTES = 32;

const derive = (secret: string): Uint8Array =>
  new Uint8Array(hkdfSync('sha256', secret, LOGIN_KEY_SALT, LOGIN_KEY_INFO, KEY_BYTES));

/**
 * The keys of the login cookie, newest first: the first seals, any of them opens (rotation).
 * From `cookieSecret` when the app sets it, otherwise from the client secret.
 */
export function loginCookieKeys(options: {
  clientSecret: string;
  cookieSecret?: string | readonly string[] | undefined;
}): [Uint8Array, ...Uint8Array[]] {
  const { cookieSecret } = options;
  const secrets = cookieSecret === undefined ? [options.clientSecret] : [cookieSecret].flat();
  const [first = options.clientSecret, ...rest] = secrets;
  return [derive(first), ...rest.map(derive)];
}
