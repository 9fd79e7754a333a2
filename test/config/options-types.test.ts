/**
 * The hand-written option interfaces (documented, what users see) against the zod schemas (what
 * validates). Checked by `npm run typecheck` (tsc compiles the tests); the runtime test below only
 * keeps vitest from reporting an empty file.
 */
import { describe, expectTypeOf, it } from 'vitest';
import type { z } from 'zod';
import type {
  identityOptionsSchema,
  ssoOptionsSchema,
  CernSsoOptions,
  IdentityProviderOptions,
} from '../../src/config.js';
import { createIdentityProvider, type BearerAuthOptions, type OnEvent } from '../../src/index.js';

// Every option may be left out: the required ones have environment fallbacks.
type SsoSchemaInput = Partial<z.input<typeof ssoOptionsSchema>>;
type IdentitySchemaInput = Partial<z.input<typeof identityOptionsSchema>>;

describe('option types', () => {
  it('CernSsoOptions is exactly what the cernSso() schema accepts', () => {
    expectTypeOf<CernSsoOptions>().toEqualTypeOf<SsoSchemaInput>();
  });

  it('IdentityProviderOptions is exactly what the createIdentityProvider() schema accepts', () => {
    expectTypeOf<IdentityProviderOptions>().toEqualTypeOf<IdentitySchemaInput>();
  });

  it('onEvent is the same listener type on cernSso() and bearerAuth()', () => {
    expectTypeOf<CernSsoOptions['onEvent']>().toEqualTypeOf<OnEvent | undefined>();
    expectTypeOf<BearerAuthOptions['onEvent']>().toEqualTypeOf<OnEvent | undefined>();
  });

  it('createIdentityProvider() takes its options and nothing else', () => {
    expectTypeOf(createIdentityProvider).parameters.toEqualTypeOf<[options?: IdentityProviderOptions]>();
  });
});
