/**
 * The authorization parameters a login may pass to Keycloak (from `/login?...` or the
 * `authorizationParams` option), each with a strict validator. Nothing else ever reaches the
 * authorization URL from outside: `state`, `nonce`, PKCE, `redirect_uri`, `response_type`,
 * `client_id` and `scope` are the library's own.
 */

/** OIDC Core §3.1.2.1 `prompt` values Keycloak understands (one at a time). */
export const PROMPTS = ['none', 'login', 'consent', 'select_account'] as const;
export type Prompt = (typeof PROMPTS)[number];

/** Largest `max_age` accepted (about 31 years, in seconds): 1 to 9 digits, no sign, no leading 0. */
export const MAX_MAX_AGE = 999_999_999;

/** `acr_values`: at most this many characters; tokens of a URI-safe charset, one space apart. */
export const MAX_ACR_VALUES_LENGTH = 128;

/**
 * Defaults of the authorization parameters of every login (`authorizationParams` option of
 * `cernSso()`); `/login?...` may override each one.
 */
export interface AuthorizationParams {
  /** `login` (ask again), `none` (silent: no page), `consent` or `select_account`. */
  prompt?: Prompt | undefined;
  /** Pre-fills the username on Keycloak's form (1 to 256 characters, no control characters). */
  login_hint?: string | undefined;
  /** Keycloak: go straight to this identity provider (e.g. `eduGAIN`); `[A-Za-z0-9_.-]{1,64}`. */
  kc_idp_hint?: string | undefined;
  /** Languages of the login pages, e.g. `fr en` (letters, digits, `-`, `_`, spaces; at most 64). */
  ui_locales?: string | undefined;
  /** Longest accepted time since the user last authenticated, in seconds (0 to 999 999 999). */
  max_age?: number | undefined;
  /** Requested authentication context classes, space-separated (`[A-Za-z0-9._:/-]`, at most 128). */
  acr_values?: string | undefined;
}

export type AuthorizationParamName = keyof AuthorizationParams;

/** Authorization parameters as they go into the URL: valid strings only. */
export type AuthorizationQuery = Partial<Record<AuthorizationParamName, string>>;

const ACR_VALUES = /^[A-Za-z0-9._:/-]+( [A-Za-z0-9._:/-]+)*$/;
/** C0 control characters and DEL (a login hint is shown on a page and may reach logs). */
function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** Validator and the rule it enforces (for configuration error messages), by parameter name. */
const RULES = new Map<AuthorizationParamName, { valid: (value: string) => boolean; rule: string }>([
  [
    'prompt',
    {
      valid: (value) => (PROMPTS as readonly string[]).includes(value),
      rule: `must be one of ${PROMPTS.map((p) => `"${p}"`).join(', ')}`,
    },
  ],
  [
    'login_hint',
    {
      valid: (value) => value.length >= 1 && value.length <= 256 && !hasControlCharacter(value),
      rule: 'must be 1 to 256 characters without control characters',
    },
  ],
  [
    'kc_idp_hint',
    { valid: (value) => /^[\w.-]{1,64}$/.test(value), rule: 'must match [A-Za-z0-9_.-]{1,64}' },
  ],
  [
    'ui_locales',
    {
      valid: (value) => /^[\w-]+( [\w-]+)*$/.test(value) && value.length <= 64,
      rule: 'must be language tags separated by single spaces, at most 64 characters',
    },
  ],
  [
    'max_age',
    {
      valid: (value) => /^(0|[1-9][0-9]{0,8})$/.test(value),
      rule: `must be an integer from 0 to ${MAX_MAX_AGE} (seconds)`,
    },
  ],
  [
    'acr_values',
    {
      valid: (value) => value.length <= MAX_ACR_VALUES_LENGTH && ACR_VALUES.test(value),
      rule: `must be tokens of [A-Za-z0-9._:/-] separated by single spaces, at most ${MAX_ACR_VALUES_LENGTH} characters`,
    },
  ],
]);

/** The names `/login` and `authorizationParams` accept, in URL order. */
export const AUTHORIZATION_PARAM_NAMES: readonly AuthorizationParamName[] = [...RULES.keys()];

/** Set by the library for every login: never taken from a caller. */
const RESERVED = new Set([
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'redirect_uri',
  'response_type',
  'response_mode',
  'client_id',
  'scope',
]);

/** The parameter `name` if it is one of the allow-list (a `Map` lookup: any string is safe). */
function ruleOf(name: string) {
  return RULES.get(name as AuthorizationParamName);
}

/**
 * The allowed, valid authorization parameters of a `/login` query (Express's parsed `req.query`
 * or any object): everything else, and any value that is not a single valid string (arrays,
 * nested objects, a bad value), is dropped. Own properties only.
 */
export function queryAuthorizationParams(query: unknown): AuthorizationQuery {
  const result: AuthorizationQuery = {};
  if (typeof query !== 'object' || query === null) return result;
  for (const name of AUTHORIZATION_PARAM_NAMES) {
    if (!Object.hasOwn(query, name)) continue;
    const value: unknown = (query as Record<string, unknown>)[name];
    if (typeof value === 'string' && ruleOf(name)?.valid(value) === true) result[name] = value;
  }
  return result;
}

/**
 * What is wrong with `authorizationParams[name] = value` in the options, or `undefined` when it
 * is fine. `max_age` is a number there; every other value a string.
 */
export function authorizationParamProblem(name: string, value: unknown): string | undefined {
  if (RESERVED.has(name)) {
    return name === 'scope'
      ? 'cannot be set here: use the scope option'
      : 'is set by the library for every login and cannot be overridden';
  }
  const rule = ruleOf(name);
  if (!rule)
    return `is not an allowed authorization parameter (allowed: ${AUTHORIZATION_PARAM_NAMES.join(', ')})`;
  if (value === undefined) return undefined;
  if (name === 'max_age') {
    return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_MAX_AGE
      ? undefined
      : rule.rule;
  }
  return typeof value === 'string' && rule.valid(value) ? undefined : rule.rule;
}

/** The validated `authorizationParams` option as URL values (`max_age` as text). */
export function defaultAuthorizationQuery(params: AuthorizationParams | undefined): AuthorizationQuery {
  const result: AuthorizationQuery = {};
  if (!params) return result;
  for (const name of AUTHORIZATION_PARAM_NAMES) {
    const value = Object.hasOwn(params, name) ? params[name] : undefined;
    if (value !== undefined) result[name] = String(value);
  }
  return result;
}
