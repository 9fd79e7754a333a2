import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { consoleLogger, describeError, normalizeLogger, type Logger } from '../src/logger.js';
import {
  cutText,
  escapeUnsafe,
  hasUnsafeText,
  MAX_LOG_TEXT,
  redactSecrets,
  REDACTED,
  sanitizeLogText,
  sanitizeUpstreamMessage,
} from '../src/untrusted-text.js';
import { PROTOTYPE_NAMES } from './helpers/prototype-names.js';

/** A real-looking JWT (header `{"alg":"RS256","typ":"JWT"}`). */
const JWT =
  'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJqZG9lIiwiZXhwIjoxOTAwMDAwMDAwfQ.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';
/** A JWT-shaped part anywhere: the invariant of everything logged. Inputs here are bounded. */
const JWT_SHAPE = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+/;
/** Anything that would end or fake a log line, or reorder what a reader sees. */
// eslint-disable-next-line no-control-regex
const LINE_BREAKING = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** Pieces attackers and upstream servers send, glued into arbitrary text. */
const piece = fc.oneof(
  fc.constantFrom(
    '\r\n[ERROR] fake line',
    '\n',
    '\r',
    '\t',
    '\u0000',
    '\u001b[31m',
    '\u0085',
    '\u2028',
    '\u2029',
    '\u202e',
    '\u2066',
    '\ud800',
    '\udc00',
    '😀',
    'eyJ',
    '.',
    'a.',
    'Bearer ',
    'bearer\t',
    'Basic ',
    'access_token=',
    'refresh_token: ',
    '"client_secret":"',
    'password=',
    '%',
    '&',
    '=',
    ':',
    '/',
    '[redacted]',
    ' ',
    ...PROTOTYPE_NAMES,
  ),
  fc.string({ unit: 'binary', maxLength: 8 }),
  fc.string({
    unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'.split('')),
    maxLength: 60,
  }),
  fc.constant(JWT),
);
const untrusted = fc.oneof(
  fc.array(piece, { maxLength: 30 }).map((parts) => parts.join('')),
  // Huge and repeated: a piece repeated up to 40 000 times.
  fc.tuple(piece, fc.integer({ min: 1, max: 40_000 })).map(([part, times]) => part.repeat(times)),
);

describe('sanitizeLogText (the logger sanitiser)', () => {
  it('keeps a line a line: CR/LF and other controls are escaped, a JWT redacted', () => {
    const out = sanitizeLogText(`upstream said: bad\r\n[ERROR] fake line ${JWT}`);
    expect(out).toBe(`upstream said: bad<CR><LF>[ERROR] fake line ${REDACTED}`);
    expect(sanitizeLogText('a\u202eb\u2028c\u0000d\u009be\ud800')).toBe(
      'a<U+202E>b<U+2028>c<U+0000>d<U+009B>e<U+D800>',
    );
    expect(sanitizeLogText('ok 😀')).toBe('ok 😀');
  });

  it('redacts Bearer values, access_token=, refresh_token, client_secret and password values', () => {
    expect(sanitizeLogText('Authorization: Bearer abcdefgh12345678')).toBe(
      `Authorization: Bearer ${REDACTED}`,
    );
    expect(sanitizeLogText('Basic ZGVtby1hcHA6ZGVtby1hcHAtc2VjcmV0')).toBe(`Basic ${REDACTED}`);
    expect(sanitizeLogText('?access_token=opaque-1&x=1')).toBe(`?access_token=${REDACTED}&x=1`);
    expect(sanitizeLogText('{"refresh_token":"r1","client_secret": "s3cr3t"}')).toBe(
      `{"refresh_token":"${REDACTED}","client_secret": "${REDACTED}"}`,
    );
    expect(sanitizeLogText('password=hunter2 token=abc')).toBe(`password=${REDACTED} token=${REDACTED}`);
    expect(sanitizeLogText('key Xk9mQ2vL8pR4tY7wZ1aB3cD5eF6gH0jK')).toBe(`key ${REDACTED}`);
  });

  it('leaves ordinary log text alone (paths, prose about tokens, e-group names)', () => {
    const text =
      'GET /api/v1.0/IdentityMembership/jdoe/precomputed -> 200 in 5 ms; refresh token rejected; ' +
      'bearer token: expired; it-service-admins';
    expect(sanitizeLogText(text)).toBe(text);
  });

  it('cuts to MAX_LOG_TEXT before anything else, never splitting a surrogate pair', () => {
    expect(sanitizeLogText('x'.repeat(100_000))).toBe(`${'x'.repeat(MAX_LOG_TEXT)}…`);
    const pairs = '😀'.repeat(5000);
    const out = cutText(pairs, 4097);
    expect(out.endsWith('…')).toBe(true);
    expect(hasUnsafeText(out)).toBe(false);
  });

  it('adversarial 100 KB+ inputs of what the old JWT pattern backtracked on come back bounded and redacted', () => {
    const inputs = [
      'eyJ' + 'a.'.repeat(50_000),
      'eyJ'.repeat(40_000),
      'eyJa'.repeat(30_000) + '.b',
      'Bearer' + ' '.repeat(120_000),
      'access_token='.repeat(10_000),
      '"password" : '.repeat(10_000),
      '\r\n'.repeat(60_000) + JWT,
      'aA1'.repeat(40_000),
    ];
    for (const input of inputs) {
      expect(input.length).toBeGreaterThanOrEqual(100_000);
      const out = sanitizeLogText(input);
      expect(out.length).toBeLessThanOrEqual(MAX_LOG_TEXT + 1);
      expect(out).not.toMatch(JWT_SHAPE);
      expect(out).not.toMatch(LINE_BREAKING);
    }
    // Uncut, the redaction itself is linear too: the first two come back fully redacted.
    expect(redactSecrets('eyJ' + 'a.'.repeat(50_000))).toBe(REDACTED);
    expect(redactSecrets('eyJa'.repeat(30_000) + '.b')).toBe(REDACTED);
    expect(redactSecrets('eyJ'.repeat(40_000))).toBe('eyJ'.repeat(40_000));
    expect(escapeUnsafe('\r\n'.repeat(60_000))).toBe('<CR><LF>'.repeat(60_000));
  });

  it('property: bounded length, no control characters, no JWT-shaped part, idempotent', () => {
    fc.assert(
      fc.property(untrusted, (text) => {
        const out = sanitizeLogText(text);
        expect(out.length).toBeLessThanOrEqual(MAX_LOG_TEXT + 1);
        expect(hasUnsafeText(out)).toBe(false);
        expect(out).not.toMatch(LINE_BREAKING);
        expect(out).not.toMatch(JWT_SHAPE);
        expect(sanitizeLogText(out)).toBe(out);
      }),
      { numRuns: 300 },
    );
  });

  it('property: a JWT or Bearer token embedded anywhere in short text never survives', () => {
    fc.assert(
      fc.property(
        untrusted,
        untrusted,
        fc.constantFrom(JWT, `Bearer ${JWT}`, `access_token=${JWT}`),
        (a, b, secret) => {
          const out = sanitizeLogText(`${a.slice(0, 1000)} ${secret} ${b.slice(0, 1000)}`);
          expect(out).not.toContain(JWT.split('.')[1]);
          expect(out).not.toContain(JWT.split('.')[2]);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('sanitizeUpstreamMessage (messages from Keycloak and the AuthZ API)', () => {
  it('one line, at most 200 characters, tokens removed', () => {
    expect(sanitizeUpstreamMessage(`Invalid\r\n[ERROR] fake line ${JWT}\u202e`)).toBe(
      `Invalid [ERROR] fake line ${REDACTED}`,
    );
    expect(sanitizeUpstreamMessage('x'.repeat(5000))).toBe(`${'x'.repeat(197)}...`);
    expect(sanitizeUpstreamMessage({ not: 'a string' })).toBe('');
  });

  it('adversarial 100 KB+ inputs (the old pattern took seconds on 90 KB) give the bounded answer', () => {
    expect(sanitizeUpstreamMessage('eyJ' + 'a.'.repeat(50_000))).toBe(`${REDACTED}…`);
    expect(sanitizeUpstreamMessage('eyJ'.repeat(40_000))).toBe(`${'eyJ'.repeat(65)}ey...`);
    expect(sanitizeUpstreamMessage('eyJa'.repeat(30_000) + '.b')).toBe(`${'eyJa'.repeat(49)}e...`);
    expect(sanitizeUpstreamMessage(' \t\r\n'.repeat(30_000) + 'end')).toBe('…');
    expect(sanitizeUpstreamMessage('aA1/'.repeat(30_000))).toBe(`${REDACTED}…`);
  });

  it('property: at most 200 characters, one line, no JWT-shaped part', () => {
    fc.assert(
      fc.property(untrusted, (text) => {
        const out = sanitizeUpstreamMessage(text);
        expect(out.length).toBeLessThanOrEqual(200);
        expect(hasUnsafeText(out)).toBe(false);
        expect(out).not.toMatch(JWT_SHAPE);
        expect(out).toBe(out.trim());
      }),
      { numRuns: 300 },
    );
  });
});

describe('normalizeLogger / describeError', () => {
  function recorder(): Logger & { lines: unknown[][] } {
    const lines: unknown[][] = [];
    const keep = (...args: unknown[]): void => {
      lines.push(args);
    };
    return { lines, debug: keep, info: keep, warn: keep, error: keep };
  }

  it('sanitises the message and the string fields of every level; err becomes { type, message, code, cause }', () => {
    const sink = recorder();
    const logger = normalizeLogger(sink);
    const err = new TypeError('fetch failed', {
      cause: Object.assign(new Error(`connect\r\n${JWT}`), { code: 'ECONNREFUSED' }),
    });
    logger.warn({ err, url: `https://x/?a\nb Bearer ${JWT}`, status: 503, retried: false }, `a\r\nb ${JWT}`);
    logger.debug('x\u2028y');
    expect(sink.lines).toEqual([
      [
        {
          err: {
            type: 'TypeError',
            message: 'fetch failed',
            cause: { type: 'Error', code: 'ECONNREFUSED', message: `connect<CR><LF>${REDACTED}` },
          },
          url: `https://x/?a<LF>b Bearer ${REDACTED}`,
          status: 503,
          retried: false,
        },
        `a<CR><LF>b ${REDACTED}`,
      ],
      ['x<U+2028>y'],
    ]);
  });

  it('drops field values that are neither strings, numbers, booleans nor err (no object dumps)', () => {
    const sink = recorder();
    normalizeLogger(sink).error({ headers: { authorization: `Bearer ${JWT}` }, n: 1 }, 'm');
    expect(sink.lines).toEqual([[{ n: 1 }, 'm']]);
  });

  it('the console logger writes one line: message, error with its causes, then key=value fields', () => {
    const spy = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      consoleLogger.warn(
        {
          err: new TypeError('fetch failed', {
            cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }),
          }),
          url: 'https://auth/t',
        },
        'token request failed',
      );
      expect(spy).toHaveBeenCalledWith(
        '[express-cern-sso] token request failed: TypeError: fetch failed (cause: Error ECONNREFUSED: x) (url=https://auth/t)',
      );
    } finally {
      spy.mockRestore();
    }
  });

  it('wraps once: normalising a normalised logger returns it', () => {
    const logger = normalizeLogger(recorder());
    expect(normalizeLogger(logger)).toBe(logger);
  });

  it('describeError is bounded, one line and never throws', () => {
    expect(describeError(Object.create(null))).toBe('object: (not printable)');
    const long = describeError(new Error(`${'y'.repeat(10_000)}\n${JWT}`));
    expect(long.length).toBeLessThanOrEqual(2049);
    expect(long).not.toMatch(LINE_BREAKING);
    const coded = Object.assign(new Error(`bad ${JWT}`), { code: 'E_X\r\n' });
    expect(describeError(coded)).toBe(`Error E_X<CR><LF>: bad ${REDACTED}`);
  });
});
