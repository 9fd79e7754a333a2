import { describe, expect, it } from 'vitest';
import { CernSsoError, memoryCache, redisCache, type RedisCacheClient } from 'express-cern-sso';

/** The ERR_CONFIG error `run` throws (fails the test if it throws anything else, or nothing). */
function configError(run: () => unknown): CernSsoError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CernSsoError);
    expect((error as CernSsoError).code).toBe('ERR_CONFIG');
    return error as CernSsoError;
  }
  throw new Error('expected a configuration error');
}

/** Shaped like a node-redis client; option checks happen before any command is sent. */
const client: RedisCacheClient = {
  get: () => Promise.resolve(null),
  set: () => Promise.resolve('OK'),
  del: () => Promise.resolve(1),
  eval: () => Promise.resolve(0),
};

describe('memoryCache() options', () => {
  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '2', null])(
    'max %s is ERR_CONFIG naming max',
    (max) => {
      const error = configError(() => memoryCache({ max: max as number }));
      expect(error.details).toHaveLength(1);
      expect(error.details[0]).toMatch(/^max: /);
      expect(error.message).toMatch(/^memoryCache: invalid configuration:\n {2}- max: /);
    },
  );

  it('an unknown option is ERR_CONFIG naming it', () => {
    const error = configError(() => memoryCache({ maxSize: 10 } as never));
    expect(error.details).toEqual(['maxSize: unknown option']);
  });

  it('options that are not an object are ERR_CONFIG', () => {
    expect(configError(() => memoryCache(5 as never)).message).toBe('memoryCache: options must be an object');
  });

  it('valid options and no options build a cache', async () => {
    for (const cache of [memoryCache(), memoryCache({ max: 1 }), memoryCache({})]) {
      await cache.set('k', 1, 1000);
      expect(await cache.get('k')).toBe(1);
    }
  });
});

describe('redisCache() options', () => {
  it.each([
    ['prefix', { prefix: 42 }, 'prefix: must be a string'],
    [
      'commandTimeoutMs 0',
      { commandTimeoutMs: 0 },
      'commandTimeoutMs: must be a positive number of milliseconds',
    ],
    [
      'commandTimeoutMs -1',
      { commandTimeoutMs: -1 },
      'commandTimeoutMs: must be a positive number of milliseconds',
    ],
    [
      'commandTimeoutMs NaN',
      { commandTimeoutMs: Number.NaN },
      'commandTimeoutMs: must be a positive number of milliseconds',
    ],
    [
      'commandTimeoutMs Infinity',
      { commandTimeoutMs: Number.POSITIVE_INFINITY },
      'commandTimeoutMs: must be a positive number of milliseconds',
    ],
    [
      'commandTimeoutMs "1000"',
      { commandTimeoutMs: '1000' },
      'commandTimeoutMs: must be a positive number of milliseconds',
    ],
    ['logger', { logger: 'console' }, 'logger: must be a logger object with debug/info/warn/error methods'],
    ['an unknown option', { ttl: 5 }, 'ttl: unknown option'],
  ])('a bad %s is ERR_CONFIG naming the option', (_what, options, problem) => {
    const error = configError(() => redisCache(client, options as never));
    expect(error.details).toEqual([problem]);
    expect(error.message).toContain(`redisCache: invalid configuration:\n  - ${problem}`);
  });

  it.each([
    ['an empty object', {}],
    ['null', null],
    ['a client without eval', { ...client, eval: undefined }],
  ])('a client that is %s is ERR_CONFIG naming client', (_what, notClient) => {
    const error = configError(() => redisCache(notClient as never));
    expect(error.details).toEqual([
      'client: must be a node-redis v5 client (from createClient() of the redis package)',
    ]);
  });

  it('every problem at once: the client first, then each option', () => {
    const error = configError(() =>
      redisCache({} as never, { prefix: 1, commandTimeoutMs: -5, logger: 3 } as never),
    );
    expect(error.details).toEqual([
      'client: must be a node-redis v5 client (from createClient() of the redis package)',
      'prefix: must be a string',
      'logger: must be a logger object with debug/info/warn/error methods',
      'commandTimeoutMs: must be a positive number of milliseconds',
    ]);
  });

  it('options that are not an object are ERR_CONFIG', () => {
    expect(configError(() => redisCache(client, 'myapp:' as never)).message).toBe(
      'redisCache: options must be an object',
    );
  });

  it('valid options build a cache', () => {
    expect(redisCache(client, { prefix: 'app:', commandTimeoutMs: 50, logger: {} })).toBeDefined();
    expect(redisCache(client)).toBeDefined();
  });
});
