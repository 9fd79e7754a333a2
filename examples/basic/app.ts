import express, { type Express } from 'express';
import session, { type Store } from 'express-session';
import {
  cernSso,
  cernSsoErrorHandler,
  requireAuth,
  requireGroup,
  userSearchHandler,
  type CernSso,
  type CernSsoOptions,
} from 'express-cern-sso';
import { LocalAccounts } from './accounts.js';
import { adminPage, directoryPage, homePage, profilePage } from './views.js';

/** How recent a sign-in the admin page wants (step-up), in seconds. */
export const ADMIN_MAX_AGE_SEC = 600;

export interface BasicAppOptions {
  sso?: CernSsoOptions;
  /** Session secret(s); the first signs, all verify (rotation). */
  sessionSecret: string | string[];
  sessionStore?: Store;
  /** Behind a TLS-terminating proxy (OKD router): secure cookies and `trust proxy`. */
  behindProxy?: boolean;
  /** The e-group that may see /admin. Default `it-dep-admins`. */
  adminGroup?: string;
  /** The local accounts `onLogin` creates (default: a new in-memory table). */
  accounts?: LocalAccounts;
}

/**
 * The basic example: a public home page, a profile page behind `requireAuth()` showing the
 * local account `onLogin` created, an admin page behind `requireGroup()` and a step-up
 * (`requireAuth({ maxAgeSec })`), a people directory with `userSearchHandler()`, and logout.
 */
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
  const accounts = options.accounts ?? new LocalAccounts();
  const sso = cernSso({
    ...options.sso,
    // A person's first sign-in creates their local account; the session remembers which it is.
    onLogin({ req, user }) {
      req.session.accountId = accounts.signIn(user.issuer, user.login).id;
    },
  });
  app.use(sso);

  app.get('/', (req, res) => {
    res.send(homePage(req.sso.user));
  });
  app.get('/profile', requireAuth(), async (req, res) => {
    // The groups come from the CERN Authorization Service (cached); an outage there must not
    // take the profile page down: it then says the groups are unavailable.
    const groups = await req.sso.groups().catch(() => undefined);
    // requireAuth() guarantees a user here.
    res.send(profilePage(req.sso.user!, groups, accounts.get(req.session.accountId)));
  });
  app.get('/api/me', requireAuth(), (req, res) => {
    res.json(req.sso.user);
  });

  const adminGroup = options.adminGroup ?? 'it-dep-admins';
  // Step-up: besides the e-group, the admin page wants a sign-in of the last 10 minutes; an
  // older one is sent through Keycloak again (password asked anew) and comes back here.
  app.get(
    '/admin',
    requireGroup(adminGroup),
    requireAuth({ maxAgeSec: ADMIN_MAX_AGE_SEC }),
    async (req, res) => {
      res.send(adminPage(req.sso.user!, adminGroup, await req.sso.groups(), ADMIN_MAX_AGE_SEC));
    },
  );
  app.get('/directory', requireAuth(), (req, res) => {
    res.send(directoryPage(req.sso.user!));
  });
  app.get('/api/users', userSearchHandler(sso.identity, { limit: 10 }));

  // Library errors raised in the routes above (e.g. the AuthZ API down): clear 4xx/503 pages.
  app.use(cernSsoErrorHandler());
  return { app, sso };
}
