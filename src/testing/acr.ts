import type { EmulatorContext } from './context.js';
import type { AuthorizationRequest, SsoSession } from './store.js';
import type { EmulatorUser } from './types.js';

/** The highest level `acrLevels` maps the request's `acr_values` to; undefined without mapping. */
export function askedLevel(ctx: EmulatorContext, request: AuthorizationRequest): number | undefined {
  const levels = ctx.settings.acrLevels;
  if (!levels) return undefined;
  const asked = request.acrValues.map((value) => levels.get(value)).filter((level) => level !== undefined);
  return asked.length === 0 ? undefined : Math.max(...asked);
}

/** Whether the SSO session is below the asked level (Keycloak then runs the step-up flow). */
export function needsStepUp(
  ctx: EmulatorContext,
  request: AuthorizationRequest,
  session: SsoSession,
): boolean {
  const level = askedLevel(ctx, request);
  return level !== undefined && (session.loa ?? 1) < level;
}

/**
 * Sets `session.acr` (and `loa`) for this authorization, like Keycloak's acr mapper: without a
 * mapping, `"1"` when the user authenticated now and `"0"` on SSO reuse; with one, the asked acr
 * of the highest level reached (a user with `mfa` reaches 2 when asked, else 1).
 */
export function settleAcr(
  ctx: EmulatorContext,
  request: AuthorizationRequest,
  session: SsoSession,
  user: EmulatorUser | undefined,
  authenticatedNow: boolean,
): void {
  const level = askedLevel(ctx, request);
  const levels = ctx.settings.acrLevels;
  if (level === undefined || !levels) {
    session.acr = authenticatedNow ? '1' : '0';
    return;
  }
  if (authenticatedNow) session.loa = level >= 2 && user?.mfa === true ? 2 : 1;
  const reached = session.loa ?? 1;
  let best: [string, number] | undefined;
  for (const value of request.acrValues) {
    const candidate = levels.get(value);
    if (candidate !== undefined && candidate <= reached && (!best || candidate > best[1]))
      best = [value, candidate];
  }
  best ??= [...levels].find(([, candidate]) => candidate === reached);
  session.acr = best?.[0] ?? (authenticatedNow ? '1' : '0');
}
