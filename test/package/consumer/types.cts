// A CommonJS TypeScript consumer (`module: nodenext`, TypeScript >= 5.8 types require() of ESM):
// type-checked by test/package/consumers.test.ts against the packed package.
import express = require('express');
import sso = require('express-cern-sso');
import testing = require('express-cern-sso/testing');

const app = express();
app.use(sso.cernSso({ clientId: 'x', clientSecret: 'y', baseUrl: 'http://localhost:3000' }));
app.get('/me', sso.requireAuth(), (req, res) => {
  res.json({ login: req.sso.user?.login });
});
const start: typeof testing.startCernSsoEmulator = testing.startCernSsoEmulator;
export = { app, start };
