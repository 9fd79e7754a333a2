/**
 * The Keycloak admin REST API, for what the tests must arrange on the real server: pointing a
 * client's registered URLs at the app under test (its port is only known at run time) and ending
 * a user's sessions the way an administrator (or another logout) does.
 */
import type { KeycloakInfo } from './keycloak.js';

export class KeycloakAdmin {
  constructor(private readonly keycloak: KeycloakInfo) {}

  private async token(): Promise<string> {
    const response = await fetch(`${this.keycloak.baseUrl}/realms/master/protocol/openid-connect/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'password',
        client_id: 'admin-cli',
        username: this.keycloak.adminUsername,
        password: this.keycloak.adminPassword,
      }),
    });
    if (!response.ok) throw new Error(`admin token: ${response.status} ${await response.text()}`);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  /** One admin API call on the `cern` realm; resolves to the parsed JSON body, if any. */
  call(method: string, path: string, body?: unknown): Promise<unknown> {
    return this.realmsCall(method, `/cern${path}`, body);
  }

  /** One call under `/admin/realms`: `path` starts after it (`/cern/clients`; '' creates a realm). */
  async realmsCall(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${this.keycloak.baseUrl}/admin/realms${path}`, {
      method,
      headers: {
        authorization: `Bearer ${await this.token()}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`admin ${method} ${path}: ${response.status} ${text}`);
    return text ? (JSON.parse(text) as unknown) : undefined;
  }

  /**
   * Registers the app's URLs on `clientId` as the Application Portal would: the exact redirect
   * URI, the post-logout redirect URI and the back-channel logout URL (reached by Keycloak itself,
   * so on 127.0.0.1 where the app listens).
   */
  async registerApp(clientId: string, app: { url: string; backchannelUrl: string }): Promise<void> {
    const [client] = (await this.call('GET', `/clients?clientId=${encodeURIComponent(clientId)}`)) as {
      id: string;
      attributes?: Record<string, string>;
    }[];
    if (!client) throw new Error(`no client ${clientId} in the realm`);
    await this.call('PUT', `/clients/${client.id}`, {
      ...client,
      redirectUris: [`${app.url}/oidc/callback`],
      attributes: {
        ...client.attributes,
        'post.logout.redirect.uris': `${app.url}/`,
        'backchannel.logout.url': app.backchannelUrl,
        'backchannel.logout.session.required': 'true',
      },
    });
  }

  async userId(username: string): Promise<string> {
    const [user] = (await this.call('GET', `/users?exact=true&username=${encodeURIComponent(username)}`)) as {
      id: string;
    }[];
    if (!user) throw new Error(`no user ${username} in the realm`);
    return user.id;
  }

  /** Ends every Keycloak session of the user (Keycloak sends back-channel logouts to the clients). */
  async logoutUser(username: string): Promise<void> {
    await this.call('POST', `/users/${await this.userId(username)}/logout`);
  }
}
