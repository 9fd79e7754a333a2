export { cernSso, type CernSso } from './sso.js';
export { requireAuth, type RequireAuthOptions } from './guards/require-auth.js';
export { attemptSilentLogin } from './auth/attempt-silent-login.js';
export type { AuthorizationParams } from './authorization-params.js';
export { requireRole } from './guards/require-role.js';
export { requireGroup } from './guards/require-group.js';
export { requireClaim, type ClaimPredicate } from './guards/require-claim.js';
export { requireScope } from './guards/require-scope.js';
export { requireEntitlement, type RequireEntitlementOptions } from './guards/require-entitlement.js';
export { bearerAuth } from './bearer/bearer-auth.js';
export type { BearerAuthOptions, BearerAlgorithm, IntrospectMode } from './bearer/options.js';
export type { MatchMode, MatchOptions } from './guards/match.js';
export type { CernSsoContext, RenderError } from './context.js';
export type { CernUser, CernClaims } from './auth/user.js';
export { CernSsoError, loginDenied, type CernSsoErrorCode } from './errors.js';
export type { OnLogin, OnLoginArgs } from './login-hook.js';
export type { CernSsoEvent, CernSsoEventType, OnEvent } from './events.js';
export { cernSsoErrorHandler } from './error-handler.js';
export type { Logger, LoggerOption, LogFields, LogMethod } from './logger.js';
export type { CernSsoOptions, CernSsoRoutes, Clock, IdentityProviderOptions } from './config.js';
export type { CacheStore } from './cache/types.js';
export type { TokenRecord, TokenStore } from './token-store.js';
export { memoryCache, type MemoryCacheOptions } from './cache/memory.js';
export {
  redisCache,
  type LocalCacheOptions,
  type RedisCacheClient,
  type RedisCacheOptions,
} from './cache/redis.js';
export * from './identity/index.js';
