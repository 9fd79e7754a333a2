import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { CernSsoError, badRequest, configError, notAuthenticated } from '../errors.js';
import { sendError } from '../respond.js';
import { hasUnsafeText } from '../untrusted-text.js';
import type { CernIdentity, IdentityProvider, UserSearchCriteria } from './types.js';
import { mergeOutcomes } from './user-search.js';

export interface UserSearchHandlerOptions {
  /** Shortest accepted `q` (after trimming). Default 3. */
  minQueryLength?: number;
  /** Most users returned. Default 10. */
  limit?: number;
  /** Answer 401 unless `req.sso.isAuthenticated()`. Default true: the directory is not public. */
  requireLogin?: boolean;
}

/** Longest accepted `q`; longer input is not a name anyone types. */
const MAX_QUERY_LENGTH = 100;

/** `req.sso` as set by `cernSso()`; typed structurally so this module does not depend on it. */
interface SsoRequestView {
  sso?: { isAuthenticated(): boolean };
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw configError(`userSearchHandler: ${name} must be a positive integer`, [
      `${name}: must be a positive integer`,
    ]);
  }
  return value;
}

/**
 * An Express handler for user autocomplete: `GET ?q=jdo` answers `{ users: CernIdentity[] }`
 * (without `fields`, whatever `identityFields` says),
 * the people whose login, display name or e-mail contains `q` (three searches, merged and
 * de-duplicated, at most `limit`). Mount it under your own path, e.g.
 * `app.get('/api/users', userSearchHandler(sso.identity))`.
 *
 * Answers: 400 JSON when `q` is missing, repeated, shorter than `minQueryLength`, too long or
 * contains control characters; 401 JSON when login is required and the request is not
 * authenticated; 503 JSON with `Retry-After` when the Authorization Service is down. Other failures go to Express's error handler.
 */
export function userSearchHandler(
  identity: IdentityProvider,
  options: UserSearchHandlerOptions = {},
): RequestHandler {
  const minQueryLength = positiveInteger('minQueryLength', options.minQueryLength, 3);
  const limit = positiveInteger('limit', options.limit, 10);
  const requireLogin = options.requireLogin ?? true;

  async function search(q: string): Promise<CernIdentity[]> {
    const fields: UserSearchCriteria[] = [{ login: q }, { displayName: q }, { email: q }];
    const results = await Promise.all(fields.map((criteria) => identity.searchUsers(criteria, { limit })));
    const { users } = mergeOutcomes(
      results.map((result) => ({ users: result.users, total: result.total, complete: true })),
      limit,
    );
    // `identityFields` (uid, department, ...) are for the application, not for every signed-in
    // person typing in a search box: the answer keeps the directory fields only.
    return users.map(({ fields: _fields, ...user }) => user);
  }

  async function handle(req: Request, res: Response): Promise<void> {
    if (requireLogin && (req as SsoRequestView).sso?.isAuthenticated() !== true) {
      sendError(req, res, notAuthenticated('Log in to search the CERN directory'));
      return;
    }
    // Read as an own property: the query object's shape depends on the app's `query parser`.
    const raw: unknown = Object.hasOwn(req.query, 'q') ? req.query.q : undefined;
    if (raw !== undefined && typeof raw !== 'string') {
      sendError(req, res, badRequest(undefined, 'Give the search text "q" once, as plain text'));
      return;
    }
    const q = raw === undefined ? '' : raw.trim();
    if (q.length < minQueryLength) {
      sendError(
        req,
        res,
        badRequest(undefined, `The search text "q" must be at least ${minQueryLength} characters long`),
      );
      return;
    }
    if (q.length > MAX_QUERY_LENGTH) {
      sendError(
        req,
        res,
        badRequest(undefined, `The search text "q" must be at most ${MAX_QUERY_LENGTH} characters long`),
      );
      return;
    }
    if (hasUnsafeText(q)) {
      sendError(req, res, badRequest(undefined, 'The search text "q" must not contain control characters'));
      return;
    }
    const users = await search(q);
    res.set('Cache-Control', 'private, no-store').json({ users });
  }

  return (req: Request, res: Response, next: NextFunction): void => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof CernSsoError && (error.status < 500 || error.status === 503) && !res.headersSent) {
        sendError(req, res, error);
        return;
      }
      next(error);
    });
  };
}
