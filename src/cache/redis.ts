import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { loggerOption, parseOptions } from '../parse-options.js';
import { consoleLogger, describeError, normalizeLogger, type LoggerOption } from '../logger.js';
import {
  createInvalidationChannel,
  kInvalidation,
  type InvalidationChannel,
  type SubscriberClient,
} from './invalidation-channel.js';
import { createLocalLayer, type LocalLayer } from './local-layer.js';
import { kGetSync, type CacheStore, type SyncReadable } from './types.js';

/**
 * The few commands `redisCache()` uses, typed structurally so that the library never imports
 * `redis` (the application brings its own client). A node-redis v5 client (`createClient()`,
 * also with RESP3 or a type mapping) and a sentinel client (`createSentinel()`) satisfy it.
 * A cluster client (`createCluster()`) does too; it has no `isReady`, so an outage is then only
 * detected by the command timeout.
 */
export interface RedisCacheClient {
  /** `false` while disconnected or reconnecting: the cache then answers "miss" at once. */
  readonly isReady?: boolean;
  get(key: string): Promise<unknown>;
  set(
    key: string,
    value: string,
    options: { expiration: { type: 'PX'; value: number }; condition?: 'NX' },
  ): Promise<unknown>;
  del(key: string): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /** Needed with `localCache` (the invalidation channel). */
  publish?(channel: string, message: string): Promise<unknown>;
  /** Needed with `localCache`: the subscriber connection is a duplicate of the client. */
  duplicate?(): SubscriberClient;
}

/** `redisCache({ localCache })`: how many local copies, and how old they may get. */
export interface LocalCacheOptions {
  /** Most local copies kept; the least recently used go first. Default 10 000. */
  max?: number;
  /**
   * A local copy is dropped this long after it was read or written, whatever happened: the bound
   * on staleness should an invalidation ever be lost. Default 60 000.
   */
  maxAgeMs?: number;
}

export interface RedisCacheOptions {
  /**
   * Prepended to every key, to separate applications (or environments) sharing one Redis.
   * Default `''`: the library's keys are already namespaced (`cern-sso:v1:...`); set one per app
   * when several apps share a Redis.
   */
  prefix?: string;
  /** Where outage and serialisation warnings go. Default: warnings and errors to the console. */
  logger?: LoggerOption;
  /**
   * A command that has not answered after this long counts as failed (a miss), so a Redis that
   * hangs never hangs a request. Default 1000.
   */
  commandTimeoutMs?: number;
  /**
   * A process-local layer in front of Redis, kept coherent across instances by pub/sub: a warm
   * read (a signed-in `requireGroup`) then makes no Redis round trip. `true` = the defaults.
   * Costs one more Redis connection per instance (the subscriber). Enable it on every instance
   * sharing the prefix: an instance without it does not announce its writes. See
   * {@link redisCache}.
   */
  localCache?: boolean | LocalCacheOptions;
}

const localCacheSchema = z
  .object({
    max: z.number().int('must be a positive integer').positive('must be a positive integer').optional(),
    maxAgeMs: z
      .number('must be a positive number of milliseconds')
      .positive('must be a positive number of milliseconds')
      .optional(),
  })
  .strict();

const optionsSchema = z
  .object({
    prefix: z.string('must be a string').optional(),
    logger: loggerOption.optional(),
    commandTimeoutMs: z
      .number('must be a positive number of milliseconds')
      .positive('must be a positive number of milliseconds')
      .optional(),
    localCache: z
      .union([z.boolean(), localCacheSchema], 'must be true, false or { max, maxAgeMs }')
      .optional(),
  })
  .strict();

function isRedisClient(client: unknown): client is RedisCacheClient {
  if (typeof client !== 'object' || client === null) return false;
  const { get, set, del, eval: run } = client as Record<string, unknown>;
  return [get, set, del, run].every((method) => typeof method === 'function');
}

/** Atomic compare-and-delete: releases a lock only while `token` still owns it. */
const UNLOCK_SCRIPT =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/** SET + PUBLISH in one atomic step: no instance misses a change that was made. */
const SET_AND_PUBLISH_SCRIPT =
  "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return redis.call('PUBLISH', ARGV[3], ARGV[4])";
/** DEL + PUBLISH in one atomic step. */
const DELETE_AND_PUBLISH_SCRIPT = "redis.call('DEL', KEYS[1]) return redis.call('PUBLISH', ARGV[1], ARGV[2])";

/** Parsed values kept per key, reused while Redis returns the same text (see `get`). */
const PARSE_MEMO_MAX = 1000;

/** One outage warning per this period; the rest go to `debug`. */
const WARNING_INTERVAL_MS = 30_000;

class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}

/**
 * A {@link CacheStore} on a node-redis v5 client, for several instances sharing API tokens,
 * group data and search results. The library does not depend on `redis`: install it and pass
 * a connected client.
 *
 * ```ts
 * import { createClient } from 'redis';
 * const client = createClient({ url: process.env.REDIS_URL });
 * client.on('error', (error) => logger.warn(error)); // required: see below
 * await client.connect();
 * app.use(cernSso({ cache: redisCache(client, { prefix: 'myapp:' }) }));
 * ```
 *
 * **Add an `error` listener to the client.** node-redis emits `error` on every connection
 * problem, and an `EventEmitter` without an `error` listener crashes the process. Keep the
 * default `reconnectStrategy` (or set one), so the client reconnects by itself.
 *
 * Behaviour:
 * - values are stored as JSON (`Date`s come back as strings, `undefined` properties are
 *   dropped); `set(key, undefined)` removes the key (a `get` could not tell it from a miss);
 *   a value JSON cannot represent (circular, `BigInt`, a function) is not stored, the key is
 *   removed and a warning logged. Read values are only ever `JSON.parse`d;
 * - TTLs are per key, in whole milliseconds (`PX`, at least 1);
 * - **a Redis outage is a cache miss, never a failed or hung request**: while the client is
 *   not ready (`isReady === false`, e.g. reconnecting) `get` resolves `undefined` and
 *   `set`/`delete` do nothing, at once, without queuing commands in node-redis's offline queue;
 *   a command that fails or takes longer than `commandTimeoutMs` is treated the same. A
 *   warning is logged at most every 30 s while this lasts, and an `info` when Redis is back;
 * - `lock(key, ttlMs)` is `SET <prefix>lock:<key> <random token> NX PX ttlMs`: the token, or
 *   `undefined` when another holder has the lock. **When Redis is unavailable `lock` rejects**
 *   (a `RedisUnavailableError`) instead of answering "held by someone else": otherwise every
 *   instance would wait for a holder that does not exist. Callers treat a rejection as "no
 *   cross-instance coordination right now" and go ahead on their own (the cached loader loads
 *   the value itself);
 * - `unlock(key, token)` deletes the lock only if `token` still owns it (atomic, a Lua script);
 *   it never rejects: a lock that could not be released expires after its TTL.
 *
 * - when Redis returns the same text for a key as last time (e.g. a RESP3 client with
 *   `clientSideCache`, which answers from its own memory), the value parsed last time is
 *   returned again instead of parsing it anew (up to 1000 keys remembered). Values are shared:
 *   never mutate what `get` returns.
 *
 * **`localCache`** (opt-in, `true` or `{ max, maxAgeMs }`): values this instance read or wrote
 * are also kept in process (lru-cache) and served synchronously, without a Redis round trip,
 * as long as they cannot be older than Redis:
 * - every `set`/`delete` writes and PUBLISHes the key on `<prefix>cern-sso:v1:invalidate` in one
 *   atomic script; each instance drops its copy of a key changed by another one when the message
 *   arrives (milliseconds), and updates its own copy itself;
 * - a subscriber connection (`client.duplicate()`, connected by `redisCache`, closed by
 *   `close()` or `sso.close()`) receives them. The local layer is used only while that
 *   subscription is known to deliver: a probe published every 400 ms must come back before the
 *   next one. Until then (starting, disconnected, reconnecting, a probe lost) reads go to Redis
 *   and nothing is kept; when trust is lost every copy is dropped. So a change made by another
 *   instance is seen within the message delay, and within about 1 s whatever happens to the
 *   subscription;
 * - a read that was in flight while another instance changed a key (or while trust was lost)
 *   does not keep its answer, which may predate the change;
 * - a copy lives at most `maxAgeMs` (default 60 s; and at most the TTL it was written with),
 *   the bound should an invalidation ever be lost, and beyond `max` copies (default 10 000)
 *   the least recently used go. A key that expires in Redis is not announced: a copy read from
 *   Redis may outlive it by up to `maxAgeMs` (the library's own entries carry their expiry);
 * - the same channel carries back-channel logouts (see the README, "Several instances").
 * Enable it on every instance sharing the prefix (one that does not announces no writes). Cost:
 * one more Redis connection per instance and a PUBLISH per write and per 400 ms.
 *
 * @throws CernSsoError `ERR_CONFIG` listing every problem (the client, then each invalid option).
 */
export function redisCache(client: RedisCacheClient, options: RedisCacheOptions = {}): CacheStore {
  const clientProblems = isRedisClient(client)
    ? []
    : ['client: must be a node-redis v5 client (from createClient() of the redis package)'];
  const wantsLocal = isRecord(options) && options.localCache !== undefined && options.localCache !== false;
  if (
    wantsLocal &&
    clientProblems.length === 0 &&
    (typeof client.duplicate !== 'function' || typeof client.publish !== 'function')
  ) {
    clientProblems.push(
      'localCache: the client must have duplicate() and publish() (a node-redis v5 client)',
    );
  }
  const parsed = parseOptions(optionsSchema, options, 'redisCache', clientProblems);
  const prefix = parsed.prefix ?? '';
  const commandTimeoutMs = parsed.commandTimeoutMs ?? 1000;
  const logger = parsed.logger === undefined ? consoleLogger : normalizeLogger(parsed.logger);

  // Warnings are rate-limited on `Date.now()` (fake timers drive it): redisCache() is built by the
  // app apart from cernSso() and has no `clock` option, and only log volume depends on it.
  let lastWarningAt = Number.NEGATIVE_INFINITY;
  let degraded = false;

  function unavailable(operation: string, error: unknown): void {
    degraded = true;
    const fields = { err: error, operation };
    const message = 'Redis cache failed, treating it as a cache miss';
    const at = Date.now();
    if (at - lastWarningAt >= WARNING_INTERVAL_MS) {
      lastWarningAt = at;
      logger.warn(fields, message);
    } else {
      logger.debug(fields, message);
    }
  }

  function available(): void {
    if (!degraded) return;
    degraded = false;
    logger.info('Redis cache is available again');
  }

  /** Runs one command: rejects at once when the client is not ready, or after the timeout. */
  async function command<R>(call: () => Promise<R>): Promise<R> {
    if (client.isReady === false) {
      throw new RedisUnavailableError(
        'the Redis client is not ready (disconnected, reconnecting or not connected)',
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        reject(new RedisUnavailableError(`no answer from Redis within ${commandTimeoutMs} ms`));
      }, commandTimeoutMs);
      timer.unref();
    });
    try {
      // Promise.race subscribes to the command too, so a late rejection is never unhandled.
      const result = await Promise.race([call(), deadline]);
      available();
      return result;
    } finally {
      clearTimeout(timer);
    }
  }

  function serialise(key: string, value: unknown): string | undefined {
    try {
      const text = JSON.stringify(value) as string | undefined;
      if (text !== undefined) return text;
    } catch (error) {
      logger.warn({ err: error, key }, 'Redis cache: not storing a value that cannot be serialised as JSON');
      return undefined;
    }
    logger.warn(
      { key, valueType: typeof value },
      'Redis cache: not storing a value that cannot be serialised as JSON',
    );
    return undefined;
  }

  const local =
    parsed.localCache === undefined || parsed.localCache === false ? undefined : parsed.localCache;
  let channel: InvalidationChannel | undefined;
  let layer: LocalLayer | undefined;
  if (local !== undefined) {
    const { publish, duplicate } = client as Required<Pick<RedisCacheClient, 'publish' | 'duplicate'>>;
    channel = createInvalidationChannel({
      name: `${prefix}cern-sso:v1:invalidate`,
      subscriber: duplicate.call(client),
      publish: (name, message) => command(() => publish.call(client, name, message)),
      logger,
    });
    layer = createLocalLayer({
      channel,
      max: (local === true ? undefined : local.max) ?? 10_000,
      maxAgeMs: (local === true ? undefined : local.maxAgeMs) ?? 60_000,
    });
  }

  /** Writes `key` (a SET, or a DEL when `text` is undefined), announcing it with `localCache`. */
  async function write(operation: string, key: string, text?: string, px?: number): Promise<void> {
    const ticket = layer?.begin(key, true);
    let kept: { value: unknown; ttlMs: number | undefined } | undefined;
    try {
      if (channel === undefined) {
        await command(() =>
          text === undefined || px === undefined
            ? client.del(prefix + key)
            : client.set(prefix + key, text, { expiration: { type: 'PX', value: px } }),
        );
        return;
      }
      const announce = channel.message('invalidate', key);
      await command(() =>
        text === undefined || px === undefined
          ? client.eval(DELETE_AND_PUBLISH_SCRIPT, {
              keys: [prefix + key],
              arguments: [channel.name, announce],
            })
          : client.eval(SET_AND_PUBLISH_SCRIPT, {
              keys: [prefix + key],
              arguments: [text, String(px), channel.name, announce],
            }),
      );
      // The copy is what any instance reads back: the JSON text parsed, not the caller's object.
      if (text !== undefined) kept = { value: JSON.parse(text) as unknown, ttlMs: px };
    } catch (error) {
      unavailable(operation, error);
    } finally {
      if (ticket !== undefined) layer?.finish(ticket, kept);
    }
  }

  const remove = (operation: string, key: string): Promise<void> => write(operation, key);

  // Parsed values by key with the text they came from: the same text is not parsed twice.
  const parsedByKey = new LRUCache<string, { text: string; value: unknown }>({ max: PARSE_MEMO_MAX });

  function parse(key: string, text: string): unknown {
    const memo = parsedByKey.get(key);
    if (memo?.text === text) return memo.value;
    try {
      const value = JSON.parse(text) as unknown;
      parsedByKey.set(key, { text, value });
      return value;
    } catch {
      parsedByKey.delete(key);
      logger.warn({ key }, 'Redis cache: ignoring a value that is not JSON (written by another program?)');
      return undefined;
    }
  }

  /** One GET: the parsed value, or `undefined` for a miss, an outage or a value that is not JSON. */
  async function read(key: string): Promise<unknown> {
    let raw: unknown;
    try {
      raw = await command(() => client.get(prefix + key));
    } catch (error) {
      unavailable('get', error);
      return undefined;
    }
    if (raw === null || raw === undefined) return undefined;
    const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : raw;
    if (typeof text !== 'string') return undefined;
    return parse(key, text);
  }

  const store: CacheStore & SyncReadable & { [kInvalidation]?: InvalidationChannel } = {
    async get(key) {
      const copy = layer?.get(key);
      if (copy !== undefined) return copy.value;
      if (layer === undefined) return read(key);
      const ticket = layer.begin(key);
      let value: unknown;
      try {
        value = await read(key);
      } finally {
        layer.finish(ticket, value === undefined ? undefined : { value });
      }
      return value;
    },

    async set(key, value, ttlMs) {
      if (value === undefined) {
        await remove('set', key);
        return;
      }
      if (typeof ttlMs !== 'number' || Number.isNaN(ttlMs)) {
        logger.warn({ key }, 'Redis cache: not storing a value whose TTL is not a number');
        return;
      }
      const text = serialise(key, value);
      if (text === undefined) {
        // Never leave an older value behind that the caller meant to replace.
        await remove('set', key);
        return;
      }
      // Whole ms, at least 1 (PX 0 is an error), at most what Redis accepts for a relative TTL.
      const px = Math.min(Math.max(1, Math.ceil(ttlMs)), Number.MAX_SAFE_INTEGER);
      await write('set', key, text, px);
    },

    async delete(key) {
      await remove('delete', key);
    },

    async lock(key, ttlMs) {
      const token = randomBytes(18).toString('base64url');
      const px = Math.max(1, Math.ceil(ttlMs));
      if (!Number.isFinite(px))
        throw new TypeError('redisCache: lock TTL must be a finite number of milliseconds');
      let reply: unknown;
      try {
        reply = await command(() =>
          client.set(`${prefix}lock:${key}`, token, {
            expiration: { type: 'PX', value: px },
            condition: 'NX',
          }),
        );
      } catch (error) {
        unavailable('lock', error);
        throw error instanceof RedisUnavailableError
          ? error
          : new RedisUnavailableError(`Redis lock failed: ${describeError(error)}`, { cause: error });
      }
      return reply === null || reply === undefined ? undefined : token;
    },

    async unlock(key, token) {
      try {
        await command(() =>
          client.eval(UNLOCK_SCRIPT, { keys: [`${prefix}lock:${key}`], arguments: [token] }),
        );
      } catch (error) {
        unavailable('unlock', error);
      }
    },

    close() {
      return channel?.close() ?? Promise.resolve();
    },
  };
  if (channel !== undefined && layer !== undefined) {
    const copies = layer;
    store[kGetSync] = (key) => copies.get(key)?.value;
    store[kInvalidation] = channel;
  }
  return store;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;
