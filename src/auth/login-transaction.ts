import { configError } from '../errors.js';
import { loginCookieKeys } from './login-key.js';
import type { LoginCookieSettings } from './login-cookies.js';
import { appPath, type AuthRuntime } from './runtime.js';

/** What `/login` and the callback share about the login cookies of one `cernSso()` instance. */
export interface LoginTransaction {
  /** Newest first: the first seals, any opens. */
  keys: [Uint8Array, ...Uint8Array[]];
  cookies: LoginCookieSettings;
  ttlMs: number;
}

export function loginTransaction(runtime: AuthRuntime): LoginTransaction {
  const { config } = runtime;
  const callbackPath = new URL(runtime.callbackUrl).pathname;
  const loginPath = config.routes.login === false ? callbackPath : appPath(runtime, config.routes.login);
  for (const path of [callbackPath, loginPath]) {
    if (/[;\s]/.test(path)) {
      throw configError(`cernSso: routes: "${path}" cannot be a cookie path (no ";")`);
    }
  }
  return {
    keys: loginCookieKeys(config),
    cookies: {
      callbackPath,
      loginPath,
      secure: config.baseUrl.startsWith('https:'),
      ttlMs: config.loginTimeoutMs,
    },
    ttlMs: config.loginTimeoutMs,
  };
}
