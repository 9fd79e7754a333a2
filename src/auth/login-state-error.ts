import { CernSsoError } from '../errors.js';

/** Why a callback could not be matched to a login this browser started. */
export type LoginStateProblem = 'missing' | 'unknown' | 'expired' | 'repeated';

const MESSAGES: Record<LoginStateProblem, string> = {
  missing: 'The sign-in response is missing its "state" parameter. Please start the sign-in again.',
  unknown:
    'This sign-in link is unknown, expired or was already used, or it was opened in another browser ' +
    '(are cookies enabled?). Please start the sign-in again.',
  expired: 'The sign-in took too long and has expired. Please start the sign-in again.',
  repeated: 'The sign-in response repeats a parameter. Please start the sign-in again.',
};

/** 400 `ERR_LOGIN_STATE` with a message a person understands. */
export function loginStateError(problem: LoginStateProblem, cause?: unknown): CernSsoError {
  return new CernSsoError('ERR_LOGIN_STATE', MESSAGES[problem], {
    status: 400,
    ...(cause === undefined ? {} : { cause }),
  });
}
