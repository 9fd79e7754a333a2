/**
 * The identity provider's public surface, for `src/index.ts` to re-export.
 *
 * @packageDocumentation
 */
export { createIdentityProvider } from './identity-provider.js';
export { userSearchHandler, type UserSearchHandlerOptions } from './user-search-handler.js';
export type {
  CernGroup,
  CernIdentity,
  IdentityProvider,
  IterateOptions,
  IterationProgress,
  UserSearchCriteria,
  UserSearchField,
  UserSearchOptions,
  UserSearchResult,
} from './types.js';
