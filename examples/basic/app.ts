import express, { type Express } from 'express';
import session, { type Store } from 'express-session';
import { cernSso, requireAuth, type CernSso, type CernSsoOptions } from 'express-cern-sso';
import { homePage, profilePage } from './views.js';

export interface BasicAppOptions {
  sso?: CernSsoOptions;
  /** Session secret(s); the first signs, all verify (rotation). */
  sessionSecret: string | string[];
  sessionStore?: Store;
  /** Behind a TLS-terminating proxy (OKD router): secure cookies and `trust proxy`. */
  behindProxy?: boolean;
}

/** The basic example: a public home page, a profile page behind `requireAuth()`, and logout. */
export function createBasicApp(options: BasicAppOptions): { app: Express; sso: CernSso } {
  const app = express();
  if (options.behindProxy) app.set('trust proxy', 1);
  app.use(
    session({
      name: 'demo.sid',
      secret: options.sessionSecret,
      resave: false,
      saveUninitialized: false,
      ...(options.sessionStore ? { store: options.sessionStore } : {}),
      cookie: { httpOnly: true, sameSite: 'lax', secure: options.behindProxy ?? false, maxAge: 8 * 3600_000 },
    }),
  );
  const sso = cernSso(options.sso);
  app.use(sso);

  app.get('/', (req, res) => {
    res.send(homePage(req.sso.user));
  });
  app.get('/profile', requireAuth(), (req, res) => {
    // requireAuth() guarantees a user here.
    res.send(profilePage(req.sso.user!));
  });
  app.get('/api/me', requireAuth(), (req, res) => {
    res.json(req.sso.user);
  });
  return { app, sso };
}
