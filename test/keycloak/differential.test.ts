/**
 * The emulator proven faithful: the same scenarios against real Keycloak (realm of
 * `realm-cern.json`) and against `express-cern-sso/testing`, comparing what the library depends
 * on — discovery fields, token headers, claim names and JSON types, `typ` values, error codes and
 * statuses, the logout token's shape — never exact values.
 *
 * Deliberate differences (listed in the README, "How faithful the emulator is") are named where
 * they are left out of a comparison.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';
import { startRecorder } from '../testing/helpers.js';
import { KeycloakAdmin } from './admin.js';
import { basicAuth, codeLogin, postForm, type CodeLogin, type CodeLoginClient } from './code-login.js';

const keycloak = inject('keycloak');

const CLIENT_ID = 'cern-diff';
const CLIENT_SECRET = 'cern-diff-secret-0123456789';
const REDIRECT_URI = 'http://localhost:3999/oidc/callback';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

type Recorder = Awaited<ReturnType<typeof startRecorder>>;

/** One identity provider under comparison. */
interface Side {
  name: 'keycloak' | 'emulator';
  issuer: string;
  client: CodeLoginClient;
  /** Ends the SSO session `sid` at the IdP, which posts back-channel logouts. */
  endSession(sid: string): Promise<void>;
}

/** The JSON type of a value, as a library reading the claim sees it. */
function jsonType(value: unknown): string {
  if (value === undefined) return 'absent';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function decodePart(jwt: string, index: 0 | 1): Record<string, unknown> {
  const part = jwt.split('.')[index] ?? '';
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

const STANDARD_AND_CERN_CLAIMS = [
  'iss',
  'sub',
  'aud',
  'azp',
  'exp',
  'iat',
  'auth_time',
  'nonce',
  'at_hash',
  'sid',
  'typ',
  'cern_upn',
  'cern_person_id',
  'cern_preferred_language',
  'cern_roles',
  'groups',
  'email',
  'name',
  'given_name',
  'family_name',
  'preferred_username',
  'resource_access',
  'scope',
] as const;

/**
 * `aud` is a string for one audience and an array for several, on both sides (OIDC Core allows
 * either, and the library accepts both): its shape depends on how many audiences a client has.
 */
function claimShape(name: string, value: unknown): string {
  const type = jsonType(value);
  return name === 'aud' && (type === 'string' || type === 'array') ? 'string|array' : type;
}

/** `{ claim: type }` for the compared claims. */
function claimTypes(claims: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(STANDARD_AND_CERN_CLAIMS.map((name) => [name, claimShape(name, claims[name])]));
}

/** `alg`, `typ` and whether `kid` is there: what a verifier reads of the JOSE header. */
function headerShape(jwt: string): Record<string, unknown> {
  const header = decodePart(jwt, 0);
  return { alg: header.alg, typ: header.typ, kid: jsonType(header.kid) };
}

async function keycloakSide(receiver: Recorder): Promise<Side> {
  const kc = keycloak!;
  const admin = new KeycloakAdmin(kc);
  // A client of its own, copied from the Application Portal-like `cern-app` (same mappers), so
  // the other suites' registrations of `cern-app` and their users' sessions are left alone.
  const [existing] = (await admin.call('GET', `/clients?clientId=${CLIENT_ID}`)) as { id: string }[];
  if (existing) await admin.call('DELETE', `/clients/${existing.id}`);
  const [template] = (await admin.call('GET', '/clients?clientId=cern-app')) as Record<string, unknown>[];
  if (!template) throw new Error('no cern-app client in the realm');
  const {
    id: _id,
    protocolMappers,
    attributes,
    ...rest
  } = template as {
    id: string;
    protocolMappers?: Record<string, unknown>[];
    attributes?: Record<string, string>;
  };
  await admin.call('POST', '/clients', {
    ...rest,
    clientId: CLIENT_ID,
    name: 'Differential suite',
    secret: CLIENT_SECRET,
    redirectUris: [REDIRECT_URI],
    attributes: {
      ...attributes,
      'post.logout.redirect.uris': 'http://localhost:3999/',
      'backchannel.logout.url': `${receiver.url}/backchannel`,
      'backchannel.logout.session.required': 'true',
    },
    protocolMappers: (protocolMappers ?? []).map(({ id: _mapperId, ...mapper }) => mapper),
  });
  return {
    name: 'keycloak',
    issuer: kc.issuer,
    client: {
      issuer: kc.issuer,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUri: REDIRECT_URI,
      username: 'jdoe',
      password: 'jdoe-password',
    },
    async endSession(sid) {
      await admin.call('DELETE', `/sessions/${encodeURIComponent(sid)}`);
    },
  };
}

function emulatorSide(emulator: CernSsoEmulator, receiver: Recorder): Side {
  emulator.registerClient({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUris: [REDIRECT_URI],
    postLogoutRedirectUris: ['http://localhost:3999/'],
    backchannelLogoutUri: `${receiver.url}/backchannel`,
    roles: { jdoe: ['user', 'admin'] },
    groupsClaim: true,
    accessTokenAudience: [CLIENT_ID, 'cern-api'],
  });
  return {
    name: 'emulator',
    issuer: emulator.issuer,
    client: {
      issuer: emulator.issuer,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUri: REDIRECT_URI,
      username: 'jdoe',
      password: 'demo',
    },
    async endSession(sid) {
      const session = emulator.sessions('jdoe').find((candidate) => candidate.sid === sid);
      if (!session) throw new Error(`no emulator session ${sid}`);
      await emulator.endSsoSessions('jdoe');
    },
  };
}

/** Runs `scenario` on both sides and returns both results, Keycloak first. */
async function both<T>(
  sides: Side[],
  scenario: (side: Side) => Promise<T>,
): Promise<Record<Side['name'], T>> {
  const [kc, emu] = await Promise.all(sides.map(scenario));
  return { keycloak: kc as T, emulator: emu as T };
}

/**
 * Status, OAuth `error` and the scheme of a `WWW-Authenticate` challenge, if any, of an answer:
 * the parts the library (and openid-client, which treats a challenge apart) branches on.
 */
interface ErrorShape {
  status: number;
  error: unknown;
  challenge: string | undefined;
}

const errorShape = ({
  status,
  body,
  headers,
}: {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}): ErrorShape => ({
  status,
  error: body.error,
  challenge: headers.get('www-authenticate')?.split(' ')[0],
});

const tokenUrl = (side: Side): string => `${side.issuer}/protocol/openid-connect/token`;
const clientAuth = (): Record<string, string> => basicAuth(CLIENT_ID, CLIENT_SECRET);

/** Error scenarios: each runs on both sides and must give the same status and `error`. */
const ERROR_SCENARIOS: Record<string, (side: Side) => Promise<unknown>> = {
  'token endpoint, wrong client secret': async (side) =>
    errorShape(
      await postForm(
        tokenUrl(side),
        {
          grant_type: 'authorization_code',
          code: 'x',
          redirect_uri: REDIRECT_URI,
          code_verifier: 'v'.repeat(43),
        },
        basicAuth(CLIENT_ID, 'wrong-secret'),
      ),
    ),
  'token endpoint, unknown client': async (side) =>
    errorShape(
      await postForm(
        tokenUrl(side),
        { grant_type: 'authorization_code', code: 'x', redirect_uri: REDIRECT_URI },
        basicAuth('no-such-client', 'secret'),
      ),
    ),
  'token endpoint, unknown code': async (side) =>
    errorShape(
      await postForm(
        tokenUrl(side),
        {
          grant_type: 'authorization_code',
          code: 'not-a-code',
          redirect_uri: REDIRECT_URI,
          code_verifier: 'v'.repeat(43),
        },
        clientAuth(),
      ),
    ),
  'token endpoint, a code used twice': async (side) => {
    const login = await codeLogin(side.client);
    return errorShape(
      await postForm(
        tokenUrl(side),
        {
          grant_type: 'authorization_code',
          code: login.code,
          redirect_uri: REDIRECT_URI,
          code_verifier: 'v'.repeat(43),
        },
        clientAuth(),
      ),
    );
  },
  'token endpoint, garbage refresh token': async (side) =>
    errorShape(
      await postForm(tokenUrl(side), { grant_type: 'refresh_token', refresh_token: 'garbage' }, clientAuth()),
    ),
  'token endpoint, unsupported grant type': async (side) =>
    errorShape(await postForm(tokenUrl(side), { grant_type: 'urn:example:unknown' }, clientAuth())),
  'token endpoint, missing grant_type': async (side) =>
    errorShape(await postForm(tokenUrl(side), {}, clientAuth())),
  'token endpoint, authorization_code without code': async (side) =>
    errorShape(
      await postForm(
        tokenUrl(side),
        { grant_type: 'authorization_code', redirect_uri: REDIRECT_URI },
        clientAuth(),
      ),
    ),
  'token endpoint, refresh_token without refresh_token': async (side) =>
    errorShape(await postForm(tokenUrl(side), { grant_type: 'refresh_token' }, clientAuth())),
  'token endpoint, token exchange of a garbage token': async (side) =>
    errorShape(
      await postForm(
        tokenUrl(side),
        {
          grant_type: TOKEN_EXCHANGE,
          subject_token: 'garbage',
          subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
          audience: 'cern-api',
        },
        clientAuth(),
      ),
    ),
  'introspection of garbage': async (side) => {
    const answer = await postForm(`${tokenUrl(side)}/introspect`, { token: 'garbage' }, clientAuth());
    return { status: answer.status, body: answer.body };
  },
  'introspection with a wrong client secret': async (side) =>
    errorShape(
      await postForm(
        `${tokenUrl(side)}/introspect`,
        { token: 'garbage' },
        basicAuth(CLIENT_ID, 'wrong-secret'),
      ),
    ),
  'revocation with a wrong client secret': async (side) =>
    errorShape(
      await postForm(
        `${side.issuer}/protocol/openid-connect/revoke`,
        { token: 'garbage' },
        basicAuth(CLIENT_ID, 'wrong-secret'),
      ),
    ),
  'revocation of garbage': async (side) => {
    const answer = await postForm(
      `${side.issuer}/protocol/openid-connect/revoke`,
      { token: 'garbage' },
      clientAuth(),
    );
    return answer.status;
  },
  'userinfo with a bad token': async (side) => {
    const response = await fetch(`${side.issuer}/protocol/openid-connect/userinfo`, {
      headers: { authorization: 'Bearer garbage' },
    });
    // Keycloak answers with the challenge and an empty body; the emulator also sends JSON.
    const challenge = response.headers.get('www-authenticate') ?? '';
    await response.arrayBuffer();
    return {
      status: response.status,
      error: /error="([^"]*)"/.exec(challenge)?.[1],
      scheme: challenge.split(' ')[0],
    };
  },
  'authorization endpoint, unknown client': async (side) => {
    const url = new URL(`${side.issuer}/protocol/openid-connect/auth`);
    url.search = new URLSearchParams({
      client_id: 'no-such-client',
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: 'openid',
    }).toString();
    const response = await fetch(url, { redirect: 'manual' });
    await response.arrayBuffer();
    return { status: response.status, type: response.headers.get('content-type')?.split(';')[0] };
  },
  'authorization endpoint, wrong redirect_uri': async (side) => {
    const url = new URL(`${side.issuer}/protocol/openid-connect/auth`);
    url.search = new URLSearchParams({
      client_id: CLIENT_ID,
      redirect_uri: 'http://localhost:3999/elsewhere',
      response_type: 'code',
      scope: 'openid',
    }).toString();
    const response = await fetch(url, { redirect: 'manual' });
    await response.arrayBuffer();
    return { status: response.status, type: response.headers.get('content-type')?.split(';')[0] };
  },
};

describe.skipIf(!keycloak)(`the emulator against Keycloak ${keycloak?.version ?? ''}`, () => {
  let emulator: CernSsoEmulator;
  let kcReceiver: Recorder;
  let emuReceiver: Recorder;
  let sides: Side[];
  let logins: Record<Side['name'], CodeLogin>;

  beforeAll(async () => {
    [emulator, kcReceiver, emuReceiver] = await Promise.all([
      startCernSsoEmulator(),
      startRecorder(),
      startRecorder(),
    ]);
    sides = [await keycloakSide(kcReceiver), emulatorSide(emulator, emuReceiver)];
    logins = await both(sides, (side) => codeLogin(side.client));
  });

  afterAll(async () => {
    // Whatever beforeAll managed to start (it may have failed half-way).
    const started: ({ close(): Promise<void> } | undefined)[] = [emulator, kcReceiver, emuReceiver];
    await Promise.all(started.map((server) => (server ? server.close() : Promise.resolve())));
  });

  it('discovery: the fields the library uses, with the same shape', async () => {
    const shape = async (side: Side): Promise<Record<string, unknown>> => {
      const response = await fetch(`${side.issuer}/.well-known/openid-configuration`);
      const doc = (await response.json()) as Record<string, unknown>;
      const endpoint = (name: string): unknown => {
        const value = doc[name];
        return typeof value === 'string' && value.startsWith(`${side.issuer}/protocol/openid-connect/`);
      };
      const includes = (name: string, values: string[]): unknown =>
        values.every((value) => (doc[name] as unknown[] | undefined)?.includes(value) === true);
      return {
        status: response.status,
        issuer: doc.issuer === side.issuer && side.issuer.endsWith('/auth/realms/cern'),
        endpoints: Object.fromEntries(
          [
            'authorization_endpoint',
            'token_endpoint',
            'userinfo_endpoint',
            'jwks_uri',
            'end_session_endpoint',
            'introspection_endpoint',
            'revocation_endpoint',
          ].map((name) => [name, endpoint(name)]),
        ),
        authorization_response_iss_parameter_supported: doc.authorization_response_iss_parameter_supported,
        backchannel_logout_supported: doc.backchannel_logout_supported,
        backchannel_logout_session_supported: doc.backchannel_logout_session_supported,
        pkce: includes('code_challenge_methods_supported', ['S256']),
        grants: includes('grant_types_supported', [
          'authorization_code',
          'refresh_token',
          'client_credentials',
          TOKEN_EXCHANGE,
        ]),
        clientAuth: includes('token_endpoint_auth_methods_supported', [
          'client_secret_basic',
          'client_secret_post',
        ]),
        rs256: includes('id_token_signing_alg_values_supported', ['RS256']),
      };
    };
    const result = await both(sides, shape);
    expect(result.keycloak).toEqual({
      status: 200,
      issuer: true,
      endpoints: {
        authorization_endpoint: true,
        token_endpoint: true,
        userinfo_endpoint: true,
        jwks_uri: true,
        end_session_endpoint: true,
        introspection_endpoint: true,
        revocation_endpoint: true,
      },
      authorization_response_iss_parameter_supported: true,
      backchannel_logout_supported: true,
      backchannel_logout_session_supported: true,
      pkce: true,
      grants: true,
      clientAuth: true,
      rs256: true,
    });
    expect(result.emulator).toEqual(result.keycloak);
  });

  it('the authorization response carries code, state, session_state and iss on both sides', () => {
    const params = (login: CodeLogin): string[] => [...login.callback.searchParams.keys()].sort();
    expect(params(logins.keycloak)).toEqual(['code', 'iss', 'session_state', 'state']);
    expect(params(logins.emulator)).toEqual(params(logins.keycloak));
  });

  it('token responses have the same fields and types', () => {
    const shape = (login: CodeLogin): Record<string, string> =>
      Object.fromEntries(Object.entries(login.tokens).map(([name, value]) => [name, jsonType(value)]));
    expect(shape(logins.emulator)).toEqual(shape(logins.keycloak));
    expect(logins.keycloak.tokens.token_type).toBe('Bearer');
    expect(logins.emulator.tokens.token_type).toBe('Bearer');
  });

  for (const kind of ['id_token', 'access_token', 'refresh_token'] as const) {
    it(`${kind}: JOSE header (alg, typ, kid) and claim names and JSON types`, () => {
      const kc = logins.keycloak.tokens[kind];
      const emu = logins.emulator.tokens[kind];
      expect(headerShape(emu)).toEqual(headerShape(kc));
      expect(claimTypes(decodePart(emu, 1))).toEqual(claimTypes(decodePart(kc, 1)));
    });
  }

  it('typ values: ID, Bearer, Refresh', () => {
    for (const side of sides) {
      const { tokens } = logins[side.name];
      expect(
        [tokens.id_token, tokens.access_token, tokens.refresh_token].map((t) => decodePart(t, 1).typ),
      ).toEqual(['ID', 'Bearer', 'Refresh']);
    }
  });

  describe('error codes and statuses', () => {
    for (const [name, scenario] of Object.entries(ERROR_SCENARIOS)) {
      it(name, async () => {
        const result = await both(sides, scenario);
        expect(result.emulator).toEqual(result.keycloak);
      });
    }
  });

  it('refresh grant: the answer has the same fields and types, and the token typ stays Refresh', async () => {
    const refresh = (side: Side) =>
      postForm(
        tokenUrl(side),
        { grant_type: 'refresh_token', refresh_token: logins[side.name].tokens.refresh_token },
        clientAuth(),
      );
    const result = await both(sides, refresh);
    expect(result.keycloak.status).toBe(200);
    expect(result.emulator.status).toBe(200);
    const shape = (body: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(body).map(([name, value]) => [name, jsonType(value)]));
    expect(shape(result.emulator.body)).toEqual(shape(result.keycloak.body));
    const refreshed = (
      answer: { body: Record<string, unknown> },
      kind: 'id_token' | 'refresh_token',
    ): string => String(answer.body[kind]);
    for (const kind of ['id_token', 'refresh_token'] as const) {
      expect(headerShape(refreshed(result.emulator, kind))).toEqual(
        headerShape(refreshed(result.keycloak, kind)),
      );
      expect(claimTypes(decodePart(refreshed(result.emulator, kind), 1))).toEqual(
        claimTypes(decodePart(refreshed(result.keycloak, kind), 1)),
      );
    }
    expect(decodePart(refreshed(result.keycloak, 'refresh_token'), 1).typ).toBe('Refresh');
  });

  it('back-channel logout token: same header and claim shape; the refresh token dies with the session', async () => {
    const receivers = { keycloak: kcReceiver, emulator: emuReceiver };
    const logoutToken = async (side: Side): Promise<string> => {
      const receiver = receivers[side.name];
      const before = receiver.received.length;
      const { sid } = decodePart(logins[side.name].tokens.id_token, 1);
      await side.endSession(String(sid));
      const post = receiver.received.slice(before).find((entry) => entry.path === '/backchannel');
      if (!post) throw new Error(`${side.name} posted no back-channel logout`);
      expect(post.contentType).toMatch(/^application\/x-www-form-urlencoded/);
      return post.body.get('logout_token') ?? '';
    };
    const tokens = await both(sides, logoutToken);
    const shape = (jwt: string) => {
      const claims = decodePart(jwt, 1);
      return {
        header: headerShape(jwt),
        claims: Object.fromEntries(
          ['iss', 'aud', 'iat', 'exp', 'jti', 'sid', 'sub', 'events', 'typ', 'nonce'].map((name) => [
            name,
            claimShape(name, claims[name]),
          ]),
        ),
        events: Object.keys(claims.events ?? {}),
      };
    };
    expect(shape(tokens.keycloak).header).toMatchObject({ alg: 'RS256', typ: 'logout+jwt', kid: 'string' });
    expect(shape(tokens.keycloak).events).toEqual(['http://schemas.openid.net/event/backchannel-logout']);
    expect(shape(tokens.emulator)).toEqual(shape(tokens.keycloak));

    const refreshAfter = await both(sides, async (side) =>
      errorShape(
        await postForm(
          tokenUrl(side),
          { grant_type: 'refresh_token', refresh_token: logins[side.name].tokens.refresh_token },
          clientAuth(),
        ),
      ),
    );
    expect(refreshAfter.keycloak).toEqual({ status: 400, error: 'invalid_grant' });
    expect(refreshAfter.emulator).toEqual(refreshAfter.keycloak);
  });
});
