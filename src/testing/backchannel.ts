import type { EmulatorContext } from './context.js';
import type { SsoSession } from './store.js';
import { signLogoutToken } from './tokens.js';

/** How long the IdP waits for each client's back-channel endpoint. */
const BACKCHANNEL_TIMEOUT_MS = 2000;

/** Result of one back-channel logout delivery. */
export interface BackchannelDelivery {
  clientId: string;
  uri: string;
  sid: string;
  /** HTTP status, or undefined when the request failed (refused, timeout). */
  status: number | undefined;
}

/**
 * POSTs a `logout_token` (form-encoded) to every client of the ended sessions that registered a
 * `backchannelLogoutUri`. Best effort, in parallel, each bounded by a short timeout; never throws.
 */
export async function sendBackchannelLogouts(
  ctx: EmulatorContext,
  sessions: readonly SsoSession[],
): Promise<BackchannelDelivery[]> {
  const deliveries: Promise<BackchannelDelivery>[] = [];
  for (const session of sessions) {
    for (const clientId of session.clients) {
      const uri = ctx.clients.get(clientId)?.backchannelLogoutUri;
      if (uri === undefined) continue;
      deliveries.push(deliver(ctx, clientId, uri, session));
    }
  }
  return Promise.all(deliveries);
}

async function deliver(
  ctx: EmulatorContext,
  clientId: string,
  uri: string,
  session: SsoSession,
): Promise<BackchannelDelivery> {
  const result: BackchannelDelivery = { clientId, uri, sid: session.sid, status: undefined };
  try {
    const logoutToken = await signLogoutToken(ctx, clientId, session);
    const response = await fetch(uri, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: logoutToken }).toString(),
      redirect: 'manual',
      // AbortSignal.timeout's timer does not keep the process alive.
      signal: AbortSignal.timeout(BACKCHANNEL_TIMEOUT_MS),
    });
    result.status = response.status;
    await response.body?.cancel();
  } catch {
    // Keycloak logs and moves on: a client that is down just misses the logout.
  }
  return result;
}
