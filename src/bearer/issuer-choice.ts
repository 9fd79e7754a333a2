import type { Request } from 'express';
import { kBearer, kIssuer, type InternalContext } from '../context.js';
import { createEventEmitter, emitterOf, type EmitEvent } from '../events.js';
import type { ResolvedBearerConfig } from './options.js';
import { createTokenValidator, type TokenValidator } from './validator.js';

/**
 * The issuer of the `cernSso()` that set `req.sso` before this `bearerAuth()` (its session
 * context carries it), or `undefined`. A context set by another `bearerAuth()` is not a source:
 * its issuer is a token's.
 */
export function inheritedIssuer(req: Request): string | undefined {
  const previous = (req as { sso?: InternalContext }).sso;
  if (previous === undefined || previous[kBearer] === true) return undefined;
  return previous[kIssuer];
}

/**
 * The `onEvent` emitter of a request: the option's; else, like the issuer, the one of the
 * `cernSso()` that set `req.sso` before this `bearerAuth()` (one audit trail per app without
 * repeating the listener); else none.
 */
export function eventEmitters(config: ResolvedBearerConfig): (req: Request) => EmitEvent {
  const own = config.onEvent ? createEventEmitter(config.onEvent, config.logger, config.now) : undefined;
  return (req) => {
    if (own) return own;
    const previous = (req as { sso?: InternalContext }).sso;
    return emitterOf(previous === undefined || previous[kBearer] === true ? undefined : previous);
  };
}

/** A validator and the issuers it trusts. */
export interface IssuerValidator {
  validator: TokenValidator;
  issuers: readonly string[];
}

/**
 * The validator for a request, by the precedence of `issuer`: the option; else the issuer of
 * the `cernSso()` mounted before (`inherited`); else the default (env, else CERN's). Validators
 * are made on first use and kept by issuer. The keys are issuers of the application's own
 * `cernSso()` instances, never anything a token says, so the map stays as small as the app's
 * configuration.
 */
export function validators(config: ResolvedBearerConfig): (inherited: string | undefined) => IssuerValidator {
  const byIssuer = new Map<string, IssuerValidator>();
  const make = (issuers: string[]): IssuerValidator => ({
    validator: createTokenValidator({ ...config, issuers }),
    issuers,
  });
  let fallback: IssuerValidator | undefined;
  return (inherited) => {
    if (config.issuerExplicit || inherited === undefined) {
      fallback ??= make(config.issuers);
      return fallback;
    }
    let chosen = byIssuer.get(inherited);
    if (!chosen) {
      chosen = make([inherited]);
      byIssuer.set(inherited, chosen);
    }
    return chosen;
  };
}
