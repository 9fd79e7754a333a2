import { describe, expect, it } from 'vitest';

describe('express-cern-sso/testing', () => {
  it('exports only what the tests of an app need: the emulator, the demo client and the seed', async () => {
    const testing = await import('express-cern-sso/testing');
    expect(Object.keys(testing).sort()).toEqual([
      'DEMO_PASSWORD',
      'demoClient',
      'seedGroups',
      'seedUsers',
      'startCernSsoEmulator',
    ]);
  });
});
