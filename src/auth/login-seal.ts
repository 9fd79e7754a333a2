import { loginState } from '../errors.js';
import { EncryptJWT, errors, jwtDecrypt, type JWTPayload } from 'jose';
import { MAX_MAX_AGE, PROMPTS, type Prompt } from '../authorization-params.js';

/** A login in progress (one per browser tab), sealed into a cookie of its own. */
export interface PendingLogin {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
  /** Epoch ms at `/login`. */
  createdAt: number;
  /** Digest of the browser-binding cookie of the browser that started it (`bindingDigest`). */
  binding: string;
  /** The `prompt` sent: `none` makes a `login_required` answer a return to `returnTo`, anonymous. */
  prompt?: Prompt;
  /** The `max_age` sent, in seconds: the callback has openid-client check `auth_time` against it. */
  maxAge?: number;
  /** The `acr_values` sent (space-separated), for checks of the ID token's `acr`. */
  acrValues?: string;
}

/** Clock skew accepted between instances sharing the key (bounded: the lifetime is minutes). */
export const LOGIN_CLOCK_TOLERANCE_SEC = 5;

/** Longest sealed value read: a pending login with the longest `returnTo` is well under it. */
const MAX_SEALED_LENGTH = 4096;

const ALGORITHMS = { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] };

/**
 * Encrypts and integrity-protects a pending login (JWE, `dir` + `A256GCM`), expiring
 * `ttlMs` after it was created.
 */
export function sealPendingLogin(login: PendingLogin, key: Uint8Array, ttlMs: number): Promise<string> {
  return new EncryptJWT({ ...login })
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
    .setIssuedAt(Math.floor(login.createdAt / 1000))
    .setExpirationTime(Math.ceil((login.createdAt + ttlMs) / 1000))
    .encrypt(key);
}

const nonEmpty = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

/** Decrypts with the first key that fits; an expired token stops the search (it is genuine). */
async function decrypt(sealed: string, keys: readonly Uint8Array[], now: number) {
  let failure: unknown;
  for (const key of keys) {
    try {
      return (
        await jwtDecrypt(sealed, key, {
          ...ALGORITHMS,
          currentDate: new Date(now),
          clockTolerance: LOGIN_CLOCK_TOLERANCE_SEC,
          requiredClaims: ['exp'],
        })
      ).payload;
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw loginState('expired', error);
      failure = error;
    }
  }
  throw loginState('unknown', failure);
}

/**
 * Opens the sealed pending login of a callback whose query carries `state`. Anything but a
 * genuine, unexpired login for exactly this `state` is a 400 `ERR_LOGIN_STATE`, never a 500.
 */
export async function openPendingLogin(
  sealed: string | undefined,
  state: string,
  keys: readonly Uint8Array[],
  now: number,
  ttlMs: number,
): Promise<PendingLogin> {
  if (sealed === undefined || sealed.length === 0 || sealed.length > MAX_SEALED_LENGTH) {
    throw loginState('unknown');
  }
  const payload = await decrypt(sealed, keys, now);
  const { nonce, codeVerifier, returnTo, createdAt, binding } = payload;
  if (
    payload.state !== state ||
    !nonEmpty(nonce) ||
    // A login sealed before browser binding existed has none: it cannot complete.
    !nonEmpty(binding) ||
    !nonEmpty(codeVerifier) ||
    typeof returnTo !== 'string' ||
    typeof createdAt !== 'number' ||
    !Number.isFinite(createdAt)
  ) {
    throw loginState('unknown');
  }
  // Our own clock decides, not only the token's whole-second `exp`.
  if (createdAt > now + LOGIN_CLOCK_TOLERANCE_SEC * 1000) throw loginState('unknown');
  if (now - createdAt > ttlMs) throw loginState('expired');
  return { state, nonce, codeVerifier, returnTo, createdAt, binding, ...askedFor(payload) };
}

/** What the login asked Keycloak for (optional members; a value of the wrong shape is ignored). */
function askedFor(payload: JWTPayload): Pick<PendingLogin, 'prompt' | 'maxAge' | 'acrValues'> {
  const { prompt, maxAge, acrValues } = payload;
  return {
    ...(typeof prompt === 'string' && (PROMPTS as readonly string[]).includes(prompt)
      ? { prompt: prompt as Prompt }
      : {}),
    ...(typeof maxAge === 'number' && Number.isInteger(maxAge) && maxAge >= 0 && maxAge <= MAX_MAX_AGE
      ? { maxAge }
      : {}),
    ...(nonEmpty(acrValues) ? { acrValues } : {}),
  };
}
