export { CernSsoError, type CernSsoErrorCode } from './errors.js';
export type { Logger } from './logger.js';
export type { CernSsoOptions, IdentityProviderOptions } from './config.js';
export type { CacheStore } from './cache/types.js';
export { memoryCache, type MemoryCacheOptions } from './cache/memory.js';
