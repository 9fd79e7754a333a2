import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityId } from '../../../src/testing/authz/index.js';
import { GROUPS, USERS, startApi, type TestApi } from './helpers.js';

let api: TestApi;
beforeAll(async () => {
  api = await startApi({ users: () => USERS, groups: () => GROUPS });
});
afterAll(() => api.close());

const upns = (body: unknown): string[] => (body as { data: { upn: string }[] }).data.map((row) => row.upn);

describe('GET /Identity/{upn}', () => {
  it('maps every EmulatorUser field to its AuthZ name, with a stable id', async () => {
    const res = await api.get('/api/v1.0/Identity/jdoe');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        id: identityId('jdoe'),
        upn: 'jdoe',
        displayName: 'John Doe',
        firstName: 'John',
        lastName: 'Doe',
        personId: 123456,
        primaryAccountEmail: 'john.doe@cern.ch',
        instituteName: 'CERN',
        telephone1: '71234',
        type: 'Person',
        source: 'cern',
        activeUser: true,
        cernDepartment: 'IT',
        cernGroup: 'CD',
        cernSection: 'DB',
        uid: 1001,
        gid: 1000,
        modificationTime: '2025-03-01T10:00:00Z',
      },
    });
    expect(res.body.data.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(JSON.stringify(res.body)).not.toContain('secret');
  });

  it('omits absent fields and applies defaults (guest: no personId)', async () => {
    const res = await api.get('/api/v1.0/Identity/guest1');
    expect(res.body.data).toEqual({
      id: identityId('guest1'),
      upn: 'guest1',
      firstName: 'Gus',
      lastName: 'Guest',
      primaryAccountEmail: 'gus@example.org',
      type: 'Person',
      source: 'cern',
      activeUser: false,
      modificationTime: '2024-01-01T00:00:00Z',
    });
  });

  it('accepts an eduGAIN upn containing "/" sent as %2F', async () => {
    const upn = 'https://idp.example.org/idp/shibboleth!alice';
    const res = await api.get(`/api/v1.0/Identity/${encodeURIComponent(upn)}`);
    expect(res.status).toBe(200);
    expect(res.body.data).toMatchObject({ upn, source: 'edugain', id: identityId(upn) });
  });

  it('also finds an identity by its id', async () => {
    const res = await api.get(`/api/v1.0/Identity/${identityId('asmith')}`);
    expect(res.body.data.upn).toBe('asmith');
  });

  it('answers 404 { message } for an unknown upn', async () => {
    const res = await api.get('/api/v1.0/Identity/nobody');
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: expect.stringContaining('nobody') });
  });

  it('supports field selection, always with id', async () => {
    const res = await api.get('/api/v1.0/Identity/jdoe?field=upn&field=primaryAccountEmail');
    expect(res.body.data).toEqual({
      id: identityId('jdoe'),
      upn: 'jdoe',
      primaryAccountEmail: 'john.doe@cern.ch',
    });
    const unknown = await api.get('/api/v1.0/Identity/jdoe?field=password');
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toContain("'password'");
  });
});

describe('GET /Identity (search)', () => {
  const search = (query: string) => api.get(`/api/v1.0/Identity?${query}`);

  it('lists everyone, sorted by upn, with pagination metadata', async () => {
    const res = await search('');
    expect(res.status).toBe(200);
    expect(upns(res.body)).toEqual(USERS.map((u) => u.login).sort());
    expect(res.body.pagination).toEqual({
      total: USERS.length,
      limit: 1000,
      offset: 0,
      next: null,
      token: null,
    });
  });

  it('eq is a case-insensitive exact match', async () => {
    expect(upns((await search('filter=upn:eq:JDOE')).body)).toEqual(['jdoe']);
    expect(upns((await search('filter=upn:eq:jdo')).body)).toEqual([]);
  });

  it('contains and startswith are case-insensitive', async () => {
    expect(upns((await search('filter=displayName:contains:SMITH')).body)).toEqual(['asmith']);
    expect(upns((await search('filter=firstName:startswith:al')).body)).toEqual([
      'asmith',
      'https://idp.example.org/idp/shibboleth!alice',
    ]);
  });

  it('filters are AND-ed', async () => {
    const res = await search('filter=firstName:eq:alice&filter=source:eq:cern');
    expect(upns(res.body)).toEqual(['asmith']);
    expect(res.body.pagination.total).toBe(1);
  });

  it('matches numbers and booleans by their text', async () => {
    expect(upns((await search('filter=personId:eq:654321')).body)).toEqual(['asmith']);
    expect(upns((await search('filter=activeUser:eq:false')).body)).toEqual(['guest1']);
    expect(upns((await search('filter=type:eq:Service')).body)).toEqual(['svc-backup']);
  });

  it('gt compares dates on modificationTime, numbers on numeric fields', async () => {
    expect(upns((await search('filter=modificationTime:gt:2024-06-01T00:00:00Z')).body)).toEqual(['jdoe']);
    // Defaulted modificationTime (2024-01-01) counts too.
    expect((await search('filter=modificationTime:gt:2023-12-31')).body.pagination.total).toBe(
      USERS.length - 1,
    );
    expect(upns((await search('filter=personId:gt:200000')).body)).toEqual(['asmith']);
    expect(upns((await search('filter=uid:gt:999')).body)).toEqual(['asmith', 'jdoe']);
    expect(upns((await search('filter=upn:gt:s')).body)).toEqual(['svc-backup']);
  });

  it('never matches records lacking the field', async () => {
    expect(upns((await search('filter=personId:gt:0')).body)).toEqual(['asmith', 'jdoe']);
  });

  it('allows ":" in filter values', async () => {
    const upn = 'https://idp.example.org/idp/shibboleth!alice';
    expect(upns((await search(`filter=${encodeURIComponent(`upn:eq:${upn}`)}`)).body)).toEqual([upn]);
  });

  it.each([
    ['filter=upn', /Malformed filter/],
    ['filter=upn:eq', /Malformed filter/],
    ['filter=:eq:x', /Malformed filter/],
    ['filter=upn::x', /Malformed filter/],
    ['filter=upn:lt:x', /Unknown operator 'lt'/],
    ['filter=upn:eq:jdoe&filter=upn:ne:x', /Unknown operator 'ne'/],
    ['filter=password:eq:x', /Unknown field 'password'/],
    ['filter=modificationTime:gt:yesterday', /Invalid date/],
    ['filter=personId:gt:abc', /Invalid number/],
    ['field=nope', /Unknown field/],
  ])('answers 400 with a clear message for %s', async (query, message) => {
    const res = await search(query);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(message);
  });

  it('selects fields with field= (repeatable or comma-separated), id always included', async () => {
    const res = await search('filter=upn:eq:jdoe&field=upn&field=displayName');
    expect(res.body.data).toEqual([{ id: identityId('jdoe'), upn: 'jdoe', displayName: 'John Doe' }]);
    const commas = await search('filter=upn:eq:jdoe&field=upn,displayName');
    expect(commas.body.data).toEqual(res.body.data);
    const absent = await search('filter=upn:eq:guest1&field=personId');
    expect(absent.body.data).toEqual([{ id: identityId('guest1') }]);
  });

  it('sees live data: users() is read on every request', async () => {
    const users = [...USERS];
    const live = await startApi({ users: () => users, groups: () => GROUPS });
    try {
      expect((await live.get('/api/v1.0/Identity/newbie')).status).toBe(404);
      users.push({ login: 'newbie' });
      expect((await live.get('/api/v1.0/Identity/newbie')).status).toBe(200);
    } finally {
      await live.close();
    }
  });
});
