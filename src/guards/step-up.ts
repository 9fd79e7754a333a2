import type { Request, Response } from 'express';
import { authorizationParamProblem, MAX_MAX_AGE } from '../authorization-params.js';
import {
  kBearer,
  kLoginPath,
  kSignIn,
  type CernClaims,
  type CernSsoContext,
  type InternalContext,
  type SignInFacts,
} from '../context.js';
import { SIGN_IN_AGAIN } from '../error-pages.js';
import { configError, forbidden, stepUpRequired } from '../errors.js';
import { emitRequestEvent } from '../events.js';
import { loginUrl } from '../login-url.js';
import { sendError, wantsHtml } from '../respond.js';

/** Options of `requireAuth()`: a recent and/or strong enough sign-in (step-up). */
export interface RequireAuthOptions {
  /**
   * Longest time since the user last authenticated at the identity provider (the token's
   * `auth_time`), in seconds: an integer from 0 to 999 999 999. A token without `auth_time` is
   * treated as too old.
   */
  maxAgeSec?: number;
  /**
   * Accepted values of the token's `acr` claim (one, or a list: any of them), each a token of
   * `[A-Za-z0-9._:/-]`. Keycloak emits meaningful values only with an ACR-to-LoA mapping.
   */
  acr?: string | readonly string[];
}

/** A validated step-up requirement. */
export interface StepUp {
  maxAgeSec?: number;
  acr?: readonly string[];
  /** `acr` as the `acr_values` parameter (space-separated). */
  acrValues?: string;
}

/** What a sign-in lacks: too old (`age`) and/or the wrong `acr`. */
export interface Shortfall {
  age: boolean;
  acr: boolean;
}

/**
 * A step-up login that still falls short this soon after its callback is not sent round again:
 * 403 instead (the identity provider ignored `acr_values`, or `maxAgeSec` is shorter than the
 * way back from the login).
 */
export const STEP_UP_LOOP_WINDOW_MS = 60_000;

const OPTION_NAMES = new Set(['maxAgeSec', 'acr']);

/** The step-up of `requireAuth(options)`, or `undefined` for none; `ERR_CONFIG` when invalid. */
export function parseStepUp(options: RequireAuthOptions | undefined): StepUp | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || (options as unknown) === null || Array.isArray(options)) {
    throw configError('requireAuth(): options must be an object like { maxAgeSec: 300, acr: "2fa" }');
  }
  const problems: string[] = [];
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) problems.push(`${name}: unknown option (allowed: maxAgeSec, acr)`);
  }
  const stepUp: StepUp = {};
  const { maxAgeSec, acr } = options;
  if (maxAgeSec !== undefined) {
    if (
      typeof maxAgeSec === 'number' &&
      Number.isInteger(maxAgeSec) &&
      maxAgeSec >= 0 &&
      maxAgeSec <= MAX_MAX_AGE
    ) {
      stepUp.maxAgeSec = maxAgeSec;
    } else problems.push(`maxAgeSec: must be an integer from 0 to ${MAX_MAX_AGE} (seconds)`);
  }
  if (acr !== undefined) {
    const values: unknown[] =
      typeof acr === 'string' ? [acr] : Array.isArray(acr) ? [...(acr as unknown[])] : [acr];
    const bad = values.filter(
      (value) =>
        typeof value !== 'string' ||
        value.includes(' ') ||
        authorizationParamProblem('acr_values', value) !== undefined,
    );
    if (values.length === 0) problems.push('acr: must name at least one accepted value');
    else if (bad.length > 0) {
      problems.push(
        `acr: each value must be a non-empty token of [A-Za-z0-9._:/-] (got ${JSON.stringify(bad[0])})`,
      );
    } else {
      const list = [...new Set(values as string[])];
      const acrValues = list.join(' ');
      const tooLong = authorizationParamProblem('acr_values', acrValues);
      if (tooLong === undefined) Object.assign(stepUp, { acr: list, acrValues });
      else problems.push(`acr: together, the values ${tooLong}`);
    }
  }
  if (problems.length > 0) throw configError(`requireAuth(): ${problems.join('; ')}`, problems);
  return stepUp.maxAgeSec === undefined && stepUp.acr === undefined ? undefined : stepUp;
}

/** `auth_time` in epoch ms, when the claims carry a usable one. */
function authTimeMs(claims: CernClaims | undefined): number | undefined {
  const value = claims !== undefined && Object.hasOwn(claims, 'auth_time') ? claims.auth_time : undefined;
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value * 1000 : undefined;
}

function factsOf(context: CernSsoContext): SignInFacts {
  return (context as InternalContext)[kSignIn]?.() ?? { now: Date.now() };
}

/** What the signed-in `context` lacks for `stepUp`; `undefined` when it satisfies it. */
export function shortfallOf(stepUp: StepUp, context: CernSsoContext): Shortfall | undefined {
  const { claims } = context;
  let age = false;
  if (stepUp.maxAgeSec !== undefined) {
    const authTime = authTimeMs(claims);
    // No `auth_time`: nothing proves the user authenticated recently (the callback time would
    // not: after an SSO reuse it may be hours after the password was typed).
    age = authTime === undefined || factsOf(context).now - authTime > stepUp.maxAgeSec * 1000;
  }
  const acrClaim = claims !== undefined && Object.hasOwn(claims, 'acr') ? claims.acr : undefined;
  const acr = stepUp.acr !== undefined && !(typeof acrClaim === 'string' && stepUp.acr.includes(acrClaim));
  return age || acr ? { age, acr } : undefined;
}

/** A sentence saying what the route needs. */
export function describeStepUp(stepUp: StepUp): string {
  const parts: string[] = [];
  if (stepUp.maxAgeSec !== undefined) {
    parts.push(`a sign-in within the last ${String(stepUp.maxAgeSec)} seconds`);
  }
  if (stepUp.acr !== undefined) parts.push(`authentication level (acr) ${stepUp.acr.join(' or ')}`);
  return `This page requires ${parts.join(' and ')}.`;
}

/**
 * The login route URL of a step-up (also for anonymous browsers, whose first login can satisfy
 * it): `max_age` and `acr_values` as required; `prompt=login` when the sign-in is too old, so
 * that Keycloak asks for the password again rather than reusing its SSO session.
 */
export function stepUpLoginUrl(
  loginPath: string,
  req: Request,
  stepUp: StepUp,
  promptLogin: boolean,
): string {
  return loginUrl(loginPath, [
    ['returnTo', req.originalUrl],
    ['max_age', stepUp.maxAgeSec === undefined ? undefined : String(stepUp.maxAgeSec)],
    ['acr_values', stepUp.acrValues],
    ['prompt', promptLogin ? 'login' : undefined],
  ]);
}

/**
 * Whether this sign-in is a step-up for (at least) what falls short, done within
 * {@link STEP_UP_LOOP_WINDOW_MS}: sending the browser round again would loop.
 */
function justSteppedUp(facts: SignInFacts, stepUp: StepUp, shortfall: Shortfall): boolean {
  const { askedFor, loggedInAt } = facts;
  if (askedFor === undefined || loggedInAt === undefined) return false;
  if (facts.now - loggedInAt >= STEP_UP_LOOP_WINDOW_MS) return false;
  const askedAge =
    !shortfall.age ||
    (askedFor.maxAge !== undefined && stepUp.maxAgeSec !== undefined && askedFor.maxAge <= stepUp.maxAgeSec);
  const askedAcr = !shortfall.acr || askedFor.acrValues !== undefined;
  return askedAge && askedAcr;
}

/**
 * A signed-in request that falls short of `stepUp`. Browsers (HTML GET/HEAD with a login route)
 * are sent through a new login with `max_age` / `acr_values` (and `prompt=login` when too old),
 * or get 403 when a step-up just done still falls short (no loop); anything else (JSON, bearer
 * tokens) gets 401 `ERR_STEP_UP_REQUIRED` with RFC 9470's challenge.
 */
export function denyStepUp(
  req: Request,
  res: Response,
  context: CernSsoContext,
  stepUp: StepUp,
  shortfall: Shortfall,
): void {
  const internal = context as InternalContext;
  const loginPath = internal[kBearer] === true ? undefined : internal[kLoginPath];
  const required = describeStepUp(stepUp);
  // Audit: what falls short, as for the other guards (a redirect to the login counts too).
  const reason = [
    ...(shortfall.age ? [`maxAge:${String(stepUp.maxAgeSec)}`] : []),
    ...(shortfall.acr ? [`acr:${stepUp.acr?.join(',') ?? ''}`] : []),
  ].join(' ');
  emitRequestEvent(req, 'access_denied', { reason });
  if (loginPath && wantsHtml(req) && (req.method === 'GET' || req.method === 'HEAD')) {
    const url = stepUpLoginUrl(loginPath, req, stepUp, shortfall.age);
    if (justSteppedUp(factsOf(context), stepUp, shortfall)) {
      const message = `${required} The sign-in you just completed did not provide it.`;
      sendError(req, res, forbidden(message), { href: url, text: SIGN_IN_AGAIN });
      return;
    }
    res.set('Cache-Control', 'no-store');
    res.redirect(302, url);
    return;
  }
  sendError(req, res, stepUpRequired(required, { acrValues: stepUp.acrValues, maxAge: stepUp.maxAgeSec }));
}
