/**
 * `express-cern-sso/testing`: a local emulator of CERN's SSO (Keycloak realm `cern`) and of the
 * CERN Authorization Service API, for the tests of apps that use express-cern-sso.
 *
 * @packageDocumentation
 */
export { startCernSsoEmulator } from './server.js';
export {
  DEMO_PASSWORD,
  EDUGAIN_LOGIN,
  GENERATED_USER_COUNT,
  demoClient,
  generateUsers,
  namedSeedUsers,
  seedGroups,
  seedUsers,
  type GenerateUsersOptions,
} from './seed.js';
export { computeUserGroups } from './memberships.js';
export { SESSION_COOKIE } from './sso-cookie.js';
export { AUTHZ_API_AUDIENCE } from './api-access.js';
export type {
  CernSsoEmulator,
  EmulatorClient,
  EmulatorFault,
  EmulatorGroup,
  EmulatorOptions,
  EmulatorRequestLogEntry,
  EmulatorUser,
  IssueAccessTokenOptions,
} from './types.js';
