import { randomBytes } from 'node:crypto';
import type { Logger } from '../logger.js';

/**
 * Internal: a store whose instances tell each other about changes (a `redisCache()` with
 * `localCache`) has this property. The logout markers use it to hear back-channel logouts
 * recorded by other instances at once.
 */
export const kInvalidation = Symbol('express-cern-sso.invalidation');

/** The subscriber connection: what `redisCache()` uses of `client.duplicate()` (node-redis v5). */
export interface SubscriberClient {
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: unknown) => void): Promise<unknown>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  destroy(): void;
}

/** Messages: `<kind>\n<instance id>\n<payload>`; the payload (a key) may hold anything. */
type Kind = 'invalidate' | 'logout' | 'probe';
const KIND_CODES: Record<Kind, string> = { invalidate: 'i', logout: 'l', probe: 'p' };

/**
 * How often an instance checks that its subscription delivers: it publishes a probe every
 * `HEARTBEAT_MS` and stops trusting the channel when the previous probe has not come back by
 * then. While trusted, an instance has therefore received every message published up to about
 * two heartbeats (under 1 s) ago, even if the connection died silently.
 */
export const HEARTBEAT_MS = 400;

export interface InvalidationChannel {
  /** The Redis channel name. */
  readonly name: string;
  /**
   * True while the subscription is known to deliver: connected, subscribed, and a probe this
   * instance published came back within one heartbeat. Every message published before the last
   * probe that came back has been received (messages on one connection arrive in order).
   */
  readonly trusted: boolean;
  /** The message telling other instances about `payload`; the sender ignores its own. */
  message(kind: Exclude<Kind, 'probe'>, payload: string): string;
  /** Another instance changed or removed `key`. */
  onInvalidate(listener: (key: string) => void): () => void;
  /** Another instance recorded a back-channel logout. */
  onLogout(listener: () => void): () => void;
  /** The channel stopped being trusted: messages may have been missed. */
  onTrustLost(listener: () => void): () => void;
  /** Publishes a logout through the main client; rejects when it could not be published. */
  publishLogout(): Promise<void>;
  /** Stops the heartbeat and closes the subscriber. Idempotent; the channel is then untrusted. */
  close(): Promise<void>;
}

export interface ChannelOptions {
  name: string;
  subscriber: SubscriberClient;
  /** Publishes through the main client (with its readiness check and command timeout). */
  publish: (channel: string, message: string) => Promise<unknown>;
  logger: Logger;
}

/** Subscribes to the channel, probes it, and tells listeners about other instances' messages. */
export function createInvalidationChannel(options: ChannelOptions): InvalidationChannel {
  const { name, subscriber, publish, logger } = options;
  const instanceId = randomBytes(12).toString('base64url');
  const invalidateListeners = new Set<(key: string) => void>();
  const logoutListeners = new Set<() => void>();
  const trustLostListeners = new Set<() => void>();
  let trusted = false;
  let subscribed = false;
  let closed = false as boolean; // set by close(), read across awaits
  /** The nonce of the probe published last and not yet received back. */
  let pendingProbe: string | undefined;

  const message = (kind: Kind, payload: string): string => `${KIND_CODES[kind]}\n${instanceId}\n${payload}`;

  function loseTrust(reason: string): void {
    pendingProbe = undefined;
    if (!trusted) return;
    trusted = false;
    if (!closed) {
      logger.warn(
        { channel: name, reason },
        'Redis cache: local layer off until the invalidation channel is back',
      );
    }
    for (const listener of trustLostListeners) listener();
  }

  function received(raw: unknown): void {
    const text = Buffer.isBuffer(raw) ? raw.toString('utf8') : raw;
    if (typeof text !== 'string') return;
    const first = text.indexOf('\n');
    const second = text.indexOf('\n', first + 1);
    if (first !== 1 || second < 0) return;
    const code = text[0];
    const sender = text.slice(first + 1, second);
    const payload = text.slice(second + 1);
    if (sender === instanceId) {
      // Our own change: the sender updated its local layer itself. Our probe: the channel works.
      if (code === KIND_CODES.probe && payload === pendingProbe) {
        pendingProbe = undefined;
        if (!trusted && subscribed && !closed) {
          trusted = true;
          logger.info({ channel: name }, 'Redis cache: invalidation channel live, local layer on');
        }
      }
      return;
    }
    if (code === KIND_CODES.invalidate) for (const listener of invalidateListeners) listener(payload);
    else if (code === KIND_CODES.logout) for (const listener of logoutListeners) listener();
  }

  async function probe(): Promise<void> {
    if (closed || !subscribed) return;
    const nonce = randomBytes(9).toString('base64url');
    pendingProbe = nonce;
    try {
      await publish(name, message('probe', nonce));
    } catch {
      loseTrust('could not publish a probe');
    }
  }

  // A probe still missing at the next beat means the subscription may have missed messages. The
  // check runs after the I/O phase (setImmediate), so a busy event loop that has the probe in a
  // socket buffer does not count as a loss.
  const heartbeat = setInterval(() => {
    setImmediate(() => {
      if (pendingProbe !== undefined) loseTrust('a probe did not come back within the heartbeat');
      void probe();
    });
  }, HEARTBEAT_MS);
  heartbeat.unref();

  subscriber.on('error', (error: unknown) => {
    logger.debug({ err: error, channel: name }, 'Redis cache: invalidation subscriber error');
    loseTrust('subscriber connection error');
  });
  subscriber.on('end', () => {
    loseTrust('subscriber connection closed');
  });
  subscriber.on('reconnecting', () => {
    loseTrust('subscriber reconnecting');
  });
  // After a reconnection node-redis subscribes again by itself; a probe that comes back proves it.
  subscriber.on('ready', () => {
    void probe();
  });

  void (async () => {
    try {
      await subscriber.connect();
      await subscriber.subscribe(name, received);
      subscribed = true;
      await probe();
    } catch (error) {
      if (closed) return;
      logger.warn(
        { err: error, channel: name },
        'Redis cache: could not subscribe to the invalidation channel; the local layer stays off',
      );
    }
  })();

  const listen =
    <L>(set: Set<L>) =>
    (listener: L): (() => void) => {
      set.add(listener);
      return () => set.delete(listener);
    };

  return {
    name,
    get trusted() {
      return trusted && !closed;
    },
    message,
    onInvalidate: listen(invalidateListeners),
    onLogout: listen(logoutListeners),
    onTrustLost: listen(trustLostListeners),
    async publishLogout() {
      await publish(name, message('logout', ''));
    },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      loseTrust('closed');
      clearInterval(heartbeat);
      try {
        subscriber.destroy();
      } catch {
        // never connected, or closed already
      }
      return Promise.resolve();
    },
  };
}

/** The invalidation channel of a cache store, if it has one (`redisCache({ localCache })`). */
export function invalidationChannelOf(store: object): InvalidationChannel | undefined {
  const channel = (store as { [kInvalidation]?: InvalidationChannel })[kInvalidation];
  return channel;
}
