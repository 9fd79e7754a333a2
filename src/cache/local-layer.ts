import { LRUCache } from 'lru-cache';
import type { InvalidationChannel } from './invalidation-channel.js';

/**
 * The process-local copies of `redisCache({ localCache })`: values this instance read from or
 * wrote to Redis, served without a round trip while the invalidation channel is trusted.
 *
 * Invariants (each one keeps a local copy from being older than Redis):
 * - a copy is served only while the channel is trusted; when trust is lost every copy is dropped
 *   and nothing is stored until it is back (a message may have been missed meanwhile);
 * - another instance's change of a key drops the copy of that key when its message arrives;
 * - a read or write keeps its answer only if the channel was trusted when it started and no
 *   change of that key (announced by another instance, or written here) and no loss of trust
 *   happened since: a GET in flight when another instance changed the key may carry the old
 *   value, and one that started before the subscription was live may have missed the change;
 * - a copy lives at most `maxAgeMs` (and at most the TTL it was written with), a bound that
 *   holds even if an invalidation were lost; beyond `max` copies the least recently used go.
 */
export interface LocalLayer {
  /** The local copy of `key` while the channel is trusted. */
  get(key: string): { value: unknown } | undefined;
  /**
   * Marks the start of a read or of this instance's own write of `key` (a write also drops the
   * copy and spoils the reads of `key` in flight). Always pair it with `finish`.
   */
  begin(key: string, write?: boolean): Ticket;
  /**
   * Ends what `begin` started; keeps `kept.value` as the copy of the key unless the key was
   * invalidated (or trust lost) since, or the channel is not trusted now.
   */
  finish(ticket: Ticket, kept?: { value: unknown; ttlMs?: number | undefined }): void;
}

/** One read or write in flight: the key's change counter and the trust epoch at its start. */
export interface Ticket {
  readonly key: string;
  readonly pending: Pending;
  readonly version: number;
  readonly epoch: number;
  /**
   * Whether the channel was trusted when it started. One that started untrusted keeps nothing:
   * a change announced before the subscription was live may have been missed, and gaining trust
   * does not bump the epoch.
   */
  readonly trusted: boolean;
}

/** The reads and writes of one key in flight; kept only while there are some. */
interface Pending {
  count: number;
  /** Bumped by every change of the key heard meanwhile. */
  version: number;
}

export interface LocalLayerOptions {
  channel: InvalidationChannel;
  max: number;
  maxAgeMs: number;
}

export function createLocalLayer({ channel, max, maxAgeMs }: LocalLayerOptions): LocalLayer {
  // Date.now rather than performance.now: fake timers (tests) drive the age bound too.
  const copies = new LRUCache<string, { value: unknown }>({
    max,
    ttl: maxAgeMs,
    ttlAutopurge: false,
    allowStale: false,
    perf: { now: () => Date.now() },
    ttlResolution: 0, // no cached "now": the age is checked on the clock of each read
  });
  // Per key, only while a read or write of it is in flight: bounded by the requests in flight.
  const pending = new Map<string, Pending>();
  /** Bumped whenever trust is lost: everything in flight then is suspect. */
  let epoch = 0;

  function changed(key: string): void {
    copies.delete(key);
    const inFlight = pending.get(key);
    if (inFlight) inFlight.version++;
  }

  channel.onInvalidate(changed);
  channel.onTrustLost(() => {
    epoch++;
    copies.clear();
  });

  return {
    get(key) {
      return channel.trusted ? copies.get(key) : undefined;
    },
    begin(key, write = false) {
      if (write) changed(key);
      let inFlight = pending.get(key);
      if (!inFlight) {
        inFlight = { count: 0, version: 0 };
        pending.set(key, inFlight);
      }
      inFlight.count++;
      return { key, pending: inFlight, version: inFlight.version, epoch, trusted: channel.trusted };
    },
    finish(ticket, kept) {
      const { key, pending: inFlight } = ticket;
      if (--inFlight.count === 0) pending.delete(key);
      if (kept === undefined || inFlight.version !== ticket.version || epoch !== ticket.epoch) return;
      if (!ticket.trusted || !channel.trusted) return;
      const { ttlMs } = kept;
      const ttl = ttlMs === undefined ? maxAgeMs : Math.max(1, Math.min(maxAgeMs, Math.ceil(ttlMs)));
      copies.set(key, { value: kept.value }, { ttl });
    },
  };
}
