import type { RequestHandler, Response } from 'express';
import type { EmulatorContext } from './context.js';
import type { CernSsoEmulator, EmulatorFault, EmulatorRequestLogEntry } from './types.js';

/** The request log keeps at most this many entries (oldest dropped). */
const MAX_LOG_ENTRIES = 100_000;

/** `/a/b` matches `/a/b` and `/a/b/c`, not `/a/bc`; `''` and `/` match everything. */
export function matchesPrefix(path: string, prefix: string): boolean {
  const base = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return base === '' || path === base || path.startsWith(`${base}/`);
}

/** Request log, fault injection, and the middleware that applies both to every request. */
export interface Traffic {
  readonly middleware: RequestHandler;
  readonly requests: CernSsoEmulator['requests'];
  readonly faults: CernSsoEmulator['faults'];
}

type IssFault = 'omit' | 'wrong';

export function createTraffic(): Traffic {
  const log: EmulatorRequestLogEntry[] = [];
  const faults = new Map<string, { fault: EmulatorFault; remaining: number | undefined; skip: number }>();

  /** The active fault with the longest matching prefix; consumes one of its `times`. */
  function takeFault(path: string): EmulatorFault | undefined {
    let best: string | undefined;
    for (const prefix of faults.keys()) {
      if (matchesPrefix(path, prefix) && (best === undefined || prefix.length > best.length)) best = prefix;
    }
    if (best === undefined) return undefined;
    const entry = faults.get(best);
    if (!entry) return undefined;
    if (entry.skip > 0) {
      entry.skip -= 1;
      return undefined;
    }
    if (entry.remaining !== undefined) {
      entry.remaining -= 1;
      if (entry.remaining <= 0) faults.delete(best);
    }
    return entry.fault;
  }

  const middleware: RequestHandler = (req, res, next) => {
    const path = req.path;
    log.push({ method: req.method, path, at: Date.now() });
    if (log.length > MAX_LOG_ENTRIES) log.splice(0, log.length - MAX_LOG_ENTRIES);
    const fault = takeFault(path);
    if (!fault) {
      next();
      return;
    }
    const apply = (): void => {
      // A hung request is only ended by suspend() or close() (they drop all connections).
      if (fault.hang) return;
      if (fault.status !== undefined) {
        if (fault.retryAfterSec !== undefined) res.set('Retry-After', String(fault.retryAfterSec));
        res
          .status(fault.status)
          .set('Cache-Control', 'no-store')
          .json({
            error: fault.status >= 500 ? 'temporarily_unavailable' : 'emulated_fault',
            error_description: `Fault injected by the CERN SSO emulator (HTTP ${fault.status})`,
          });
        return;
      }
      if (fault.wrongIss) res.locals.issFault = 'wrong' satisfies IssFault;
      else if (fault.omitIss) res.locals.issFault = 'omit' satisfies IssFault;
      next();
    };
    if (fault.delayMs !== undefined && fault.delayMs > 0) setTimeout(apply, fault.delayMs).unref();
    else apply();
  };

  return {
    middleware,
    requests: {
      count(pathPrefix: string, method?: string): number {
        const wanted = method?.toUpperCase();
        return log.filter(
          (entry) =>
            matchesPrefix(entry.path, pathPrefix) && (wanted === undefined || entry.method === wanted),
        ).length;
      },
      get log(): readonly EmulatorRequestLogEntry[] {
        return log;
      },
      reset(): void {
        log.length = 0;
      },
    },
    faults: {
      set(pathPrefix: string, fault: EmulatorFault): void {
        if (fault.times !== undefined && (!Number.isInteger(fault.times) || fault.times < 1)) {
          throw new TypeError(`fault.times must be a positive integer, got ${fault.times}`);
        }
        if (
          fault.status !== undefined &&
          (!Number.isInteger(fault.status) || fault.status < 100 || fault.status > 599)
        ) {
          throw new TypeError(`fault.status must be an HTTP status, got ${fault.status}`);
        }
        if (fault.skip !== undefined && (!Number.isInteger(fault.skip) || fault.skip < 0)) {
          throw new TypeError(`fault.skip must be a non-negative integer, got ${fault.skip}`);
        }
        faults.set(pathPrefix, { fault: { ...fault }, remaining: fault.times, skip: fault.skip ?? 0 });
      },
      clear(pathPrefix?: string): void {
        if (pathPrefix === undefined) faults.clear();
        else faults.delete(pathPrefix);
      },
    },
  };
}

/**
 * The issuer to put in this response (authorization response `iss`, discovery `issuer`, token
 * `iss` claims): the real one, another realm's (`wrongIss`), or none (`omitIss`).
 */
export function issuerFor(ctx: EmulatorContext, res: Response): string | undefined {
  const fault: unknown = res.locals.issFault;
  if (fault === 'omit') return undefined;
  if (fault === 'wrong') return ctx.issuer.replace(/\/realms\/[^/]+$/, `/realms/not-${ctx.realm}`);
  return ctx.issuer;
}
