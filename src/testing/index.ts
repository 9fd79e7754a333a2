/**
 * `express-cern-sso/testing`: a local emulator of CERN's SSO (Keycloak realm `cern`) and of the
 * CERN Authorization Service API, for the tests of apps that use express-cern-sso.
 *
 * @packageDocumentation
 */
export { startCernSsoEmulator } from './server.js';
export { DEMO_PASSWORD, demoClient, seedGroups, seedUsers } from './seed.js';
export type {
  CernSsoEmulator,
  EmulatorClient,
  EmulatorFault,
  EmulatorGroup,
  EmulatorLoginOptions,
  EmulatorLoginResult,
  EmulatorOptions,
  EmulatorRequestLogEntry,
  EmulatorUser,
  IssueAccessTokenOptions,
} from './types.js';
