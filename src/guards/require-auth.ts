import type { RequestHandler } from 'express';
import { answerGuardFailure } from './guard-failure.js';
import { contextOf, denyAnonymous } from './deny.js';

/**
 * Lets signed-in users through. Anonymous browsers are redirected to the login route (and come
 * back afterwards); other clients get 401 JSON.
 */
export function requireAuth(): RequestHandler {
  return (req, res, next) => {
    try {
      const context = contextOf(req, 'requireAuth()');
      if (context.isAuthenticated()) {
        next();
        return;
      }
      denyAnonymous(req, res, context);
    } catch (error) {
      answerGuardFailure(req, res, 'requireAuth()', error);
    }
  };
}
