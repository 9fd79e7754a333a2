import {
  EnvHttpProxyAgent,
  fetch as undiciFetch,
  Request as UndiciRequest,
  Response as UndiciResponse,
} from 'undici';

/** The proxy settings of the environment, as undici and curl read them (lower case wins). */
export interface ProxySettings {
  httpProxy: string | undefined;
  httpsProxy: string | undefined;
  noProxy: string;
}

/** `fetch` as openid-client, jose and axios call it (their option types differ slightly). */
export type HttpFetch = (input: string | URL | Request, init?: object) => Promise<Response>;

/** How every upstream call of the library goes out: one decision of "proxy or not" per URL. */
export interface ProxyTransport {
  /** `fetch` for openid-client, jose and the redirect-URI check. */
  fetch: HttpFetch;
  /** True when a proxy variable is set: axios then goes through {@link ProxyTransport.fetch} too. */
  proxied: boolean;
  /** The `Request`/`Response` classes that belong to {@link ProxyTransport.fetch} (axios' fetch adapter). */
  Request: typeof globalThis.Request;
  Response: typeof globalThis.Response;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Reads `http_proxy`/`HTTP_PROXY`, `https_proxy`/`HTTPS_PROXY` and `no_proxy`/`NO_PROXY`. */
export function proxySettings(env: NodeJS.ProcessEnv = process.env): ProxySettings {
  const httpProxy = nonEmpty(env.http_proxy ?? env.HTTP_PROXY);
  return {
    httpProxy,
    // As undici and curl: without an https proxy, https URLs use the http one.
    httpsProxy: nonEmpty(env.https_proxy ?? env.HTTPS_PROXY) ?? httpProxy,
    noProxy: env.no_proxy ?? env.NO_PROXY ?? '',
  };
}

const direct: ProxyTransport = {
  // Looked up on each call, so whatever the app or a test installed as the global fetch is used.
  fetch: (input, init) => globalThis.fetch(input, init),
  proxied: false,
  Request: globalThis.Request,
  Response: globalThis.Response,
};

/** One agent (and its sockets) per distinct setting: the settings of a process rarely change. */
const transports = new Map<string, ProxyTransport>();

/**
 * The transport for the proxy variables of `env` as they are now (read once by each caller at
 * its construction). Without a proxy variable, the global `fetch` (no change at all). With one,
 * undici's `fetch` through its `EnvHttpProxyAgent`: `NO_PROXY` (host, `.suffix`, `host:port`,
 * `*`) decides per URL; https URLs go through a CONNECT tunnel. The agent is given the values
 * read here, so a later change of `NO_PROXY` does not make it decide differently from axios.
 */
export function proxyTransport(env: NodeJS.ProcessEnv = process.env): ProxyTransport {
  const settings = proxySettings(env);
  if (settings.httpProxy === undefined && settings.httpsProxy === undefined) return direct;
  const key = JSON.stringify(settings);
  let transport = transports.get(key);
  if (transport === undefined) {
    // '' (not undefined) for an unset one: undici would otherwise read process.env itself.
    const dispatcher = new EnvHttpProxyAgent({
      httpProxy: settings.httpProxy ?? '',
      httpsProxy: settings.httpsProxy ?? '',
      noProxy: settings.noProxy,
      // http URLs as absolute-form requests (as curl and axios send them); https ones tunnelled.
      proxyTunnel: false,
    });
    const proxiedFetch = (input: unknown, init?: unknown): Promise<unknown> =>
      undiciFetch(input as Parameters<typeof undiciFetch>[0], {
        ...(init as Parameters<typeof undiciFetch>[1]),
        dispatcher,
      });
    transport = {
      fetch: proxiedFetch as HttpFetch,
      proxied: true,
      // Same shape as the global classes (undici is what Node's fetch is built from).
      Request: UndiciRequest as unknown as typeof globalThis.Request,
      Response: UndiciResponse as unknown as typeof globalThis.Response,
    };
    transports.set(key, transport);
  }
  return transport;
}
