import type { CernClaims, CernUser } from '../context.js';

/** Keycloak names the hidden user of a client's service account `service-account-<clientId>`. */
const SERVICE_ACCOUNT_PREFIX = 'service-account-';

/** A claim's own string value (never one inherited through the prototype), else `undefined`. */
function ownString(claims: CernClaims, name: string): string | undefined {
  if (!Object.hasOwn(claims, name)) return undefined;
  const value: unknown = claims[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * A client-credentials token: Keycloak issues it to the client's service account, whose
 * `preferred_username` is `service-account-` + the client id (Keycloak stores usernames in
 * lower case, hence the case-insensitive comparison). The client is the token's `azp`, or the
 * `client_id` / `clientId` claim of Keycloak's service-account mapper.
 */
function isClientCredentialsToken(claims: CernClaims): boolean {
  const username = ownString(claims, 'preferred_username')?.toLowerCase();
  if (username?.startsWith(SERVICE_ACCOUNT_PREFIX) !== true) return false;
  return ['azp', 'client_id', 'clientId'].some((name) => {
    const client = ownString(claims, name);
    return client !== undefined && username === `${SERVICE_ACCOUNT_PREFIX}${client.toLowerCase()}`;
  });
}

/**
 * The kind of account behind CERN token claims, only where documented (see the README,
 * "Account kinds"); `undefined` when the claims do not say:
 *
 * - `'service'`: a client-credentials token (Keycloak's service-account user of the client);
 * - `'person'`: `personId` set, i.e. a `cern_person_id` claim ("only available for known CERN
 *   users", auth.docs.cern.ch);
 * - `'external'`: no person id and a login scoped to an identity provider: CERN documents
 *   federated (eduGAIN, social) UPNs as `12387234@google` or `albert.einstein@unibe.ch`, and
 *   eduGAIN logins may contain `/`; a CERN login name has neither.
 *
 * Guests (lightweight accounts) carry nothing documented that tells them apart: `undefined`.
 */
export function accountTypeOf(
  claims: CernClaims,
  login: string,
  personId: number | undefined,
): CernUser['accountType'] {
  if (personId !== undefined) return 'person';
  if (isClientCredentialsToken(claims)) return 'service';
  if (login.includes('@') || login.includes('/')) return 'external';
  return undefined;
}
