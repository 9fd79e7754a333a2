import express, { type Express } from 'express';
import session from 'express-session';
import {
  bearerAuth,
  cernSso,
  cernSsoErrorHandler,
  requireAuth,
  requireGroup,
  type CernSsoOptions,
} from 'express-cern-sso';

/** The app under test in `app.test.ts` (and the README's "Testing your app"). */
export function createApp(options: CernSsoOptions): Express {
  const app = express();
  app.use(session({ secret: 'test only', resave: false, saveUninitialized: false }));
  app.use(cernSso(options)); // /login, /oidc/callback, /logout; req.sso on every request
  app.use('/api', bearerAuth({ audience: 'my-api' })); // issuer and identity of cernSso() above
  app.get('/me', requireAuth(), (req, res) => {
    res.json(req.sso.user);
  });
  app.get('/my-groups', requireAuth(), async (req, res) => {
    res.json({ groups: await req.sso.groups() });
  });
  app.get('/admin', requireGroup('it-dep-admins'), (req, res) => {
    res.send(`Hello admin ${req.sso.user?.login ?? ''}`);
  });
  app.get('/api/whoami', requireAuth(), (req, res) => {
    res.json({ login: req.sso.user?.login });
  });
  app.use(cernSsoErrorHandler());
  return app;
}
