import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupId, identityId } from '../../../src/testing/authz/index.js';
import type { EmulatorGroup } from '../../../src/testing/types.js';
import { GROUPS, USERS, startApi, type TestApi } from './helpers.js';

let api: TestApi;
beforeAll(async () => {
  api = await startApi({ users: () => USERS, groups: () => GROUPS });
});
afterAll(() => api.close());

const EDU = 'https://idp.example.org/idp/shibboleth!alice';
const identifiers = (body: unknown): string[] =>
  (body as { data: { groupIdentifier: string }[] }).data.map((row) => row.groupIdentifier);
const upns = (body: unknown): string[] => (body as { data: { upn: string }[] }).data.map((row) => row.upn);

describe('GET /IdentityMembership/{upn}/precomputed', () => {
  it('lists direct and transitive groups, sorted, with ids', async () => {
    const res = await api.get('/api/v1.0/IdentityMembership/jdoe/precomputed');
    expect(res.status).toBe(200);
    expect(identifiers(res.body)).toEqual(['it-cd', 'it-cd-db', 'it-dep', 'somegroup|1234-uuid']);
    expect(res.body.data[2]).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      identityId: identityId('jdoe'),
      groupId: groupId('it-dep'),
      groupIdentifier: 'it-dep',
      displayName: 'IT department',
      description: 'All of IT',
    });
    expect(res.body.pagination).toBeUndefined();
  });

  it('keeps bogus `name|uuid` entries as-is (clients drop them)', async () => {
    const res = await api.get('/api/v1.0/IdentityMembership/jdoe/precomputed');
    expect(res.body.data).toContainEqual(expect.objectContaining({ groupIdentifier: 'somegroup|1234-uuid' }));
  });

  it('walks nesting through service accounts and cycles', async () => {
    expect(identifiers((await api.get('/api/v1.0/IdentityMembership/svc-backup/precomputed')).body)).toEqual([
      'it-cd',
      'it-cd-db',
      'it-dep',
    ]);
    expect(identifiers((await api.get('/api/v1.0/IdentityMembership/guest1/precomputed')).body)).toEqual([
      'cycle-a',
      'cycle-b',
    ]);
  });

  it('works for an eduGAIN upn sent with %2F', async () => {
    const res = await api.get(`/api/v1.0/IdentityMembership/${encodeURIComponent(EDU)}/precomputed`);
    expect(identifiers(res.body)).toEqual(['edugain-users']);
  });

  it('answers 404 for an identity without groups, and for an unknown one', async () => {
    const none = await api.get('/api/v1.0/IdentityMembership/loner/precomputed');
    expect(none.status).toBe(404);
    expect(none.body).toEqual({ message: expect.any(String) });
    expect((await api.get('/api/v1.0/IdentityMembership/nobody/precomputed')).status).toBe(404);
  });

  it('supports field selection', async () => {
    const res = await api.get('/api/v1.0/IdentityMembership/asmith/precomputed?field=groupIdentifier');
    expect(res.body.data).toEqual([
      { id: expect.any(String), groupIdentifier: 'cycle-a' },
      { id: expect.any(String), groupIdentifier: 'cycle-b' },
      { id: expect.any(String), groupIdentifier: 'ep-dep' },
    ]);
  });
});

describe('GET /Group', () => {
  it('searches with the filter language and selects fields', async () => {
    const res = await api.get('/api/v1.0/Group?filter=groupIdentifier:contains:IT-&field=groupIdentifier');
    expect(res.status).toBe(200);
    expect(res.body.data).toEqual([
      { id: groupId('it-cd'), groupIdentifier: 'it-cd' },
      { id: groupId('it-cd-db'), groupIdentifier: 'it-cd-db' },
      { id: groupId('it-dep'), groupIdentifier: 'it-dep' },
    ]);
    expect(res.body.pagination).toMatchObject({ total: 3, next: null, token: null });
  });

  it('returns displayName and description when present', async () => {
    const res = await api.get('/api/v1.0/Group?filter=groupIdentifier:eq:it-dep');
    expect(res.body.data).toEqual([
      {
        id: groupId('it-dep'),
        groupIdentifier: 'it-dep',
        displayName: 'IT department',
        description: 'All of IT',
      },
    ]);
  });

  it('ANDs filters on displayName and description', async () => {
    const res = await api.get(
      '/api/v1.0/Group?filter=displayName:startswith:it&filter=description:contains:all',
    );
    expect(identifiers(res.body)).toEqual(['it-dep']);
  });

  it('rejects identity fields in group filters', async () => {
    const res = await api.get('/api/v1.0/Group?filter=upn:eq:jdoe');
    expect(res.status).toBe(400);
    expect(res.body.message).toContain("Unknown field 'upn'");
  });

  it('paginates groups', async () => {
    const first = await api.get('/api/v1.0/Group?limit=4');
    expect(first.body.data).toHaveLength(4);
    expect(first.body.pagination.total).toBe(GROUPS.length);
    const rest = await api.get(first.body.pagination.next as string);
    expect(
      identifiers(first.body).concat(
        identifiers(rest.body),
        identifiers((await api.get(rest.body.pagination.next as string)).body),
      ),
    ).toEqual(GROUPS.map((g) => g.id).sort());
  });
});

describe('GET /Group/{id}/memberidentities/precomputed', () => {
  it('lists transitive members that are known identities, sorted by upn', async () => {
    const res = await api.get('/api/v1.0/Group/it-dep/memberidentities/precomputed');
    expect(res.status).toBe(200);
    expect(upns(res.body)).toEqual(['jdoe', 'svc-backup']);
    expect(res.body.data[0]).toMatchObject({
      id: identityId('jdoe'),
      primaryAccountEmail: 'john.doe@cern.ch',
    });
    expect(res.body.pagination).toMatchObject({ total: 2, next: null });
  });

  it('selects fields and honours filters', async () => {
    const res = await api.get(
      '/api/v1.0/Group/it-dep/memberidentities/precomputed?field=upn&filter=type:eq:person',
    );
    expect(res.body.data).toEqual([{ id: identityId('jdoe'), upn: 'jdoe' }]);
  });

  it('survives cycles and ignores missing nested groups', async () => {
    expect(upns((await api.get('/api/v1.0/Group/cycle-b/memberidentities/precomputed')).body)).toEqual([
      'asmith',
      'guest1',
    ]);
    expect(upns((await api.get('/api/v1.0/Group/ep-dep/memberidentities/precomputed')).body)).toEqual([
      'asmith',
    ]);
  });

  it('accepts an encoded `|` group id and the group uuid', async () => {
    const res = await api.get(
      `/api/v1.0/Group/${encodeURIComponent('somegroup|1234-uuid')}/memberidentities/precomputed`,
    );
    expect(upns(res.body)).toEqual(['jdoe']);
    const byId = await api.get(`/api/v1.0/Group/${groupId('it-cd')}/memberidentities/precomputed?field=upn`);
    expect(upns(byId.body)).toEqual(['jdoe', 'svc-backup']);
  });

  it('returns an empty page for an existing group without members', async () => {
    const res = await api.get('/api/v1.0/Group/empty-group/memberidentities/precomputed');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: [],
      pagination: { total: 0, limit: 1000, offset: 0, next: null, token: null },
    });
  });

  it('answers 404 for an unknown group', async () => {
    const res = await api.get('/api/v1.0/Group/no-such-group/memberidentities/precomputed');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: expect.stringContaining('no-such-group') });
  });

  it('paginates members with next links that keep the encoded group id', async () => {
    const members = Array.from({ length: 25 }, (_, i) => `m${String(i).padStart(2, '0')}`);
    const groups: EmulatorGroup[] = [{ id: 'big|grp', members }];
    const big = await startApi({ users: () => members.map((login) => ({ login })), groups: () => groups });
    try {
      const seen: string[] = [];
      let path: string | null = '/api/v1.0/Group/big%7Cgrp/memberidentities/precomputed?limit=10&field=upn';
      while (path !== null) {
        const res = await big.get(path);
        expect(res.status).toBe(200);
        seen.push(...upns(res.body));
        path = res.body.pagination.next;
        if (path !== null)
          expect(path.startsWith('/api/v1.0/Group/big%7Cgrp/memberidentities/precomputed?')).toBe(true);
      }
      expect(seen).toEqual(members);
    } finally {
      await big.close();
    }
  });
});
