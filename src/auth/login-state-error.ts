import { CernSsoError } from '../errors.js';

/** Why a callback could not be matched to a login this browser started. */
export type LoginStateProblem = 'missing' | 'unknown' | 'unbound' | 'expired' | 'repeated';

const UNKNOWN =
  'This sign-in link is unknown, expired or was already used, or it was opened in another browser ' +
  '(are cookies enabled?). Please start the sign-in again.';

const MESSAGES: Record<LoginStateProblem, string> = {
  missing: 'The sign-in response is missing its "state" parameter. Please start the sign-in again.',
  unknown: UNKNOWN,
  // A genuine login cookie without this browser's binding cookie: to the person, the same thing
  // as a link from another browser; to the log, a reason of its own (see `loginStateLogNote`).
  unbound: UNKNOWN,
  expired: 'The sign-in took too long and has expired. Please start the sign-in again.',
  repeated: 'The sign-in response repeats a parameter. Please start the sign-in again.',
};

/**
 * 400 `ERR_LOGIN_STATE` with a message a person understands; `details` holds the problem (for
 * logs and for callers matching on it).
 */
export function loginStateError(problem: LoginStateProblem, cause?: unknown): CernSsoError {
  return new CernSsoError('ERR_LOGIN_STATE', MESSAGES[problem], {
    status: 400,
    details: [problem],
    ...(cause === undefined ? {} : { cause }),
  });
}

/** For the log only: why a callback was refused, when the message shown does not say it. */
export function loginStateLogNote(error: CernSsoError): string {
  if (error.code !== 'ERR_LOGIN_STATE' || !error.details.includes('unbound')) return '';
  return (
    ' (reason: the login cookie is genuine but the browser-binding cookie is missing or belongs to ' +
    'another browser: a callback this browser did not start, possibly login CSRF by cookie tossing)'
  );
}
