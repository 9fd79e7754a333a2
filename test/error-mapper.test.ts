import fc from 'fast-check';
import * as client from 'openid-client';
import { describe, expect, it } from 'vitest';
import { mapUpstreamError, retryAfterOf } from '../src/error-mapper.js';
import { upstreamUnavailable } from '../src/errors.js';

/** What openid-client throws for an OAuth error body with this status (as oauth4webapi builds it). */
function bodyError(status: number, error: string, description: string, retryAfter?: string): Error {
  const headers = new Headers(retryAfter === undefined ? {} : { 'retry-after': retryAfter });
  return new client.ResponseBodyError('server responded with an error in the response body', {
    cause: { error, error_description: description },
    response: new Response(null, { status, headers }),
  });
}

const call = { what: 'The CERN login service', url: 'https://kc.example/token', action: 'Sign-in' };

describe('mapUpstreamError on any token endpoint answer', () => {
  it('5xx/429/408 are 503 with a bounded Retry-After; a refused client is ERR_IDP_MISCONFIGURED; upstream text never reaches the message', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 400, max: 599 }),
        fc.oneof(fc.constantFrom('invalid_client', 'unauthorized_client', 'invalid_grant'), fc.string()),
        fc.string(),
        fc.option(fc.oneof(fc.string(), fc.integer({ min: 0, max: 10 ** 9 }).map(String)), {
          nil: undefined,
        }),
        (status, code, description, retryAfter) => {
          const mapped = mapUpstreamError(bodyError(status, code, `secret-${description}`, retryAfter), call);
          if (status >= 500 || status === 429 || status === 408) {
            expect(mapped).toMatchObject({ status: 503, code: 'ERR_UPSTREAM_UNAVAILABLE' });
            const seconds = Number(mapped.headers['Retry-After']);
            expect(Number.isInteger(seconds) && seconds >= 1 && seconds <= 300).toBe(true);
          } else if (code === 'invalid_client' || (code === 'unauthorized_client' && status === 401)) {
            expect(mapped).toMatchObject({ status: 500, code: 'ERR_IDP_MISCONFIGURED' });
            expect(mapped.details[0]).toMatch(
              /^clientSecret: The CERN login service \(https:\/\/kc\.example\/token\)/,
            );
          } else {
            expect(mapped.status).not.toBe(503);
          }
          expect(mapped.message).not.toContain('secret-');
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('retryAfterOf', () => {
  it('is a whole number of seconds from 1 to 300 whatever the header says', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.nat().map(String), fc.constant(undefined)), (header) => {
        const seconds = retryAfterOf(header);
        expect(Number.isInteger(seconds) && seconds >= 1 && seconds <= 300).toBe(true);
      }),
      { numRuns: 300 },
    );
    expect(retryAfterOf('7')).toBe(7);
    expect(retryAfterOf('86400')).toBe(300);
    expect(retryAfterOf('0')).toBe(1);
    expect(retryAfterOf('Wed, 21 Oct 2015 07:28:00 GMT')).toBe(5);
  });
});

describe('mapUpstreamError: what a caller may add', () => {
  it('a plain-http endpoint openid-client refuses is a misconfiguration naming the URL, not a validation failure', async () => {
    const server = { issuer: 'https://kc.example', introspection_endpoint: 'http://kc.example/introspect' };
    const config = new client.Configuration(server, 'api', 'secret');
    const error: unknown = await client
      .tokenIntrospection(config, 'token')
      .catch((caught: unknown) => caught);
    const mapped = mapUpstreamError(error, {
      ...call,
      url: server.introspection_endpoint,
      urlOption: 'issuer',
    });
    expect(mapped).toMatchObject({ status: 500, code: 'ERR_IDP_MISCONFIGURED' });
    expect(mapped.details).toEqual([
      'issuer: http://kc.example/introspect is not an https URL; check the URL',
    ]);
  });

  it('retryAfterSec is the Retry-After of an outage without one of its own; onInvalid words an invalid answer', () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    expect(mapUpstreamError(refused, { ...call, retryAfterSec: 2 }).headers).toEqual({ 'Retry-After': '2' });
    expect(mapUpstreamError(bodyError(503, 'x', '', '9'), { ...call, retryAfterSec: 2 }).headers).toEqual({
      'Retry-After': '9',
    });
    const notJson = Object.assign(new Error('JSON body expected'), { code: 'OAUTH_RESPONSE_IS_NOT_JSON' });
    expect(mapUpstreamError(notJson, call).code).toBe('ERR_LOGIN_FAILED');
    const outage = mapUpstreamError(notJson, { ...call, onInvalid: () => upstreamUnavailable('X', notJson) });
    expect(outage).toMatchObject({ status: 503, code: 'ERR_UPSTREAM_UNAVAILABLE' });
  });
});
