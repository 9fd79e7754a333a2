import type { Request } from 'express';
import { kIdentity, kLoginPath, type InternalContext } from '../context.js';
import { matches, normalizeRequirement, type MatchOptions } from '../guards/match.js';
import { cleanGroupNames, withCernUsersAlias } from '../identity/group-names.js';
import { getSessionAccessToken, notAuthenticated } from './refresh.js';
import { appPath, type AuthRuntime } from './runtime.js';
import { userFromClaims, type CernClaims, type CernUser } from './user.js';

/** `req.sso` for session (browser) requests. Reads the session lazily: no cost until used. */
export function createSessionContext(req: Request, runtime: AuthRuntime): InternalContext {
  const auth = () => (req as { session?: Request['session'] }).session?.cernSso;
  let cachedUser: { claims: CernClaims; user: CernUser | undefined } | undefined;

  const context: InternalContext = {
    [kLoginPath]:
      runtime.config.routes.login === false ? undefined : appPath(runtime, runtime.config.routes.login),
    [kIdentity]: runtime.identity,
    isAuthenticated: () => auth() !== undefined,
    get claims() {
      return auth()?.claims;
    },
    get user() {
      const claims = auth()?.claims;
      if (!claims) return undefined;
      if (cachedUser?.claims !== claims) cachedUser = { claims, user: userFromClaims(claims) };
      return cachedUser.user;
    },
    getAccessToken: () => getSessionAccessToken(req, runtime),
    async groups() {
      const user = context.user;
      if (!user) throw notAuthenticated();
      const claims = auth()?.claims;
      // Keycloak's `groups` claim, when enabled for the app, is authoritative: no AuthZ call.
      if (claims && Array.isArray(claims.groups)) {
        return withCernUsersAlias(cleanGroupNames(claims.groups), runtime.config.cernUsersGroup);
      }
      return runtime.identity.getUserGroups(user.login);
    },
    async inGroup(group: string | readonly string[], options?: MatchOptions) {
      const { values, match } = normalizeRequirement('inGroup', group, options);
      if (!context.isAuthenticated()) return false;
      return matches(await context.groups(), values, match);
    },
    async exchangeToken(audience: string) {
      const accessToken = await context.getAccessToken();
      return runtime.identity.exchangeToken(accessToken, audience);
    },
  };
  return context;
}
