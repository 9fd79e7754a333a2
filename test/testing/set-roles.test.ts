import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCernSsoEmulator, type CernSsoEmulator } from 'express-cern-sso/testing';

let emulator: CernSsoEmulator;
beforeAll(async () => {
  emulator = await startCernSsoEmulator();
});
afterAll(async () => {
  await emulator.close();
});

const rolesIn = async (login: string): Promise<unknown> =>
  decodeJwt(await emulator.issueAccessToken(login, { clientId: 'roles-app' })).cern_roles;

describe('emulator.setRoles()', () => {
  it("replaces a user's roles in a client: tokens issued from then on carry them", async () => {
    emulator.registerClient({ clientId: 'roles-app', clientSecret: 's', redirectUris: [], roles: {} });
    expect(await rolesIn('jdoe')).toEqual([]);
    emulator.setRoles('roles-app', 'jdoe', ['user', 'admin']);
    expect(await rolesIn('jdoe')).toEqual(['user', 'admin']);
    emulator.setRoles('roles-app', 'jdoe', []);
    expect(await rolesIn('jdoe')).toEqual([]);
  });

  it('treats a login named like an Object.prototype member as any other key', () => {
    emulator.registerClient({ clientId: 'roles-app', clientSecret: 's', redirectUris: [] });
    emulator.setRoles('roles-app', '__proto__', ['x']);
    const roles = emulator.clients.get('roles-app')?.roles ?? {};
    expect(Object.hasOwn(roles, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(roles)).toBe(Object.prototype);
  });

  it('throws for an unknown client', () => {
    expect(() => {
      emulator.setRoles('nobody', 'jdoe', ['x']);
    }).toThrow(/unknown client "nobody"/);
  });
});
