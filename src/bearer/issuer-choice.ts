import { createGroupSets } from '../auth/group-names.js';
import { kBearer, kIdentity, kIssuer, type ContextIdentity, type InternalContext } from '../context.js';
import { createEventEmitter, emitterOf, type EmitEvent } from '../events.js';
import type { Logger } from '../logger.js';
import type { ResolvedBearerConfig } from './options.js';
import { createTokenValidator, type TokenValidator } from './validator.js';

/** What every request of one `bearerAuth()` shares. */
export interface BearerSettings {
  /** The logger of the `bearerAuth()`, used by the guards too. */
  logger: Logger;
  /** The clock of the `bearerAuth()` (the age of `auth_time` for `requireAuth({ maxAgeSec })`). */
  now: () => number;
  cernUsersGroup: string | undefined;
  /** A `groups` claim as a set of lower-case names (with the alias), memoised per claim list. */
  claimGroupSets: (groups: readonly unknown[]) => ReadonlySet<string>;
}

/** A validator and the issuers it trusts. */
interface IssuerValidator {
  validator: TokenValidator;
  issuers: readonly string[];
}

/** What a `bearerAuth()` uses for one request, by the `req.sso` set before it (if any). */
export interface BearerScope {
  /** The validator of the trusted issuers. */
  validator: TokenValidator;
  /** The `onEvent` emitter. */
  emit: EmitEvent;
  /** The identity provider for groups and token exchange (configured, else inherited). */
  identity: ContextIdentity | undefined;
  /** The issuer whose users `identity` knows; `undefined` when it cannot be told. */
  identityIssuer: string | undefined;
  settings: BearerSettings;
}

/**
 * The scope of a request, by what `req.sso` held before this `bearerAuth()` (`previous`):
 *
 * - Trusted issuers: the `issuer` option; else the issuer of the `cernSso()` that set `previous`
 *   (a context of another `bearerAuth()` is not a source: its issuer is a token's); else the
 *   default (env, else CERN's). Validators are made on first use and kept by issuer. The keys are
 *   issuers of the application's own `cernSso()` instances, never anything a token says, so the
 *   map stays as small as the app's configuration.
 * - `onEvent`: the option's; else, like the issuer, the one of that `cernSso()` (one audit trail
 *   per app without repeating the listener); else none.
 * - The identity provider: the configured one, else the one of `previous`; and the issuer whose
 *   users it knows: the provider's own, else the one of the context it comes from, else, for a
 *   provider that does not say, the only trusted issuer (with several, none: no AuthZ lookups).
 *
 * Without a previous context (an API on its own) the scope is always the same: made once.
 */
export function bearerScopes(
  config: ResolvedBearerConfig,
): (previous: InternalContext | undefined) => BearerScope {
  const settings: BearerSettings = {
    logger: config.logger,
    now: config.now,
    cernUsersGroup: config.cernUsersGroup,
    claimGroupSets: createGroupSets(config.cernUsersGroup),
  };
  const ownEmitter = config.onEvent
    ? createEventEmitter(config.onEvent, config.logger, config.now)
    : undefined;
  const byIssuer = new Map<string, IssuerValidator>();
  let fallback: IssuerValidator | undefined;
  const make = (issuers: string[]): IssuerValidator => ({
    validator: createTokenValidator({ ...config, issuers }),
    issuers,
  });
  const validatorFor = (inherited: string | undefined): IssuerValidator => {
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
  const scopeOf = (previous: InternalContext | undefined): BearerScope => {
    const source = previous === undefined || previous[kBearer] === true ? undefined : previous;
    const { validator, issuers } = validatorFor(source?.[kIssuer]);
    const identity = config.identity ?? previous?.[kIdentity];
    const inherited =
      identity !== undefined && identity === previous?.[kIdentity] ? previous[kIssuer] : undefined;
    return {
      validator,
      emit: ownEmitter ?? emitterOf(source),
      identity,
      identityIssuer: identity?.[kIssuer] ?? inherited ?? (issuers.length === 1 ? issuers[0] : undefined),
      settings,
    };
  };
  let standalone: BearerScope | undefined;
  return (previous) => {
    if (previous !== undefined) return scopeOf(previous);
    standalone ??= scopeOf(undefined);
    return standalone;
  };
}
