import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, generateUsers, type TestApi } from './helpers.js';

const USERS = generateUsers(3000);
const LOGINS = USERS.map((u) => u.login).sort();

let api: TestApi;
beforeAll(async () => {
  api = await startApi({ users: () => USERS, groups: () => [] });
});
afterAll(() => api.close());

interface PageBody {
  data: { id: string; upn: string }[];
  pagination: { total: number; limit: number; offset: number; next: string | null; token: string | null };
}

async function followNext(first: string): Promise<{ pages: PageBody[]; upns: string[] }> {
  const pages: PageBody[] = [];
  let path: string | null = first;
  while (path !== null) {
    const res = await api.get(path);
    expect(res.status).toBe(200);
    const body = res.body as PageBody;
    pages.push(body);
    path = body.pagination.next;
  }
  return { pages, upns: pages.flatMap((p) => p.data.map((row) => row.upn)) };
}

describe('AuthZ API emulator: pagination', () => {
  it('pages through 3000 identities with the default page size, each seen once, in upn order', async () => {
    const { pages, upns } = await followNext('/api/v1.0/Identity?field=upn');
    expect(pages).toHaveLength(3);
    expect(upns).toEqual(LOGINS);
    expect(pages.map((p) => p.pagination.offset)).toEqual([0, 1000, 2000]);
    for (const page of pages) expect(page.pagination).toMatchObject({ total: 3000, limit: 1000 });
    expect(pages[2]!.pagination).toMatchObject({ next: null, token: null });
  });

  it('keeps filters, fields and limit in next, plus an opaque token', async () => {
    const first =
      '/api/v1.0/Identity?filter=cernDepartment:eq:IT&filter=lastName:startswith:last&field=upn&limit=128';
    const res = await api.get(first);
    const { next, token } = res.body.pagination as PageBody['pagination'];
    expect(next).not.toBeNull();
    expect(next!.startsWith('/api/v1.0/Identity?')).toBe(true);
    const query = new URL(next!, api.origin).searchParams;
    expect(query.getAll('filter')).toEqual(['cernDepartment:eq:IT', 'lastName:startswith:last']);
    expect(query.getAll('field')).toEqual(['upn']);
    expect(query.get('limit')).toBe('128');
    expect(query.get('token')).toBe(token);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);

    const { pages, upns } = await followNext(first);
    expect(pages).toHaveLength(8); // 1000 IT users / 128
    expect(upns).toEqual(
      USERS.filter((u) => u.department === 'IT')
        .map((u) => u.login)
        .sort(),
    );
    expect(new Set(upns).size).toBe(1000);
    expect(pages.every((p) => p.data.every((row) => Object.keys(row).join() === 'id,upn'))).toBe(true);
  });

  it('accepts the token with the original query (fallback when next is not used)', async () => {
    const query = 'filter=cernDepartment:eq:EP&limit=300';
    const first = (await api.get(`/api/v1.0/Identity?${query}`)).body as PageBody;
    const second = await api.get(`/api/v1.0/Identity?${query}&token=${first.pagination.token!}`);
    expect(second.status).toBe(200);
    expect(second.body.pagination.offset).toBe(300);
    expect(second.body.data[0].upn).toBe(
      USERS.filter((u) => u.department === 'EP')
        .map((u) => u.login)
        .sort()[300],
    );
    // Filters in another order still match the token.
    const reordered = await api.get(
      `/api/v1.0/Identity?limit=300&filter=cernDepartment:eq:EP&token=${first.pagination.token!}`,
    );
    expect(reordered.body.data).toEqual(second.body.data);
  });

  it('rejects a tampered token, junk, and a token replayed on another query with 400', async () => {
    const first = (await api.get('/api/v1.0/Identity?limit=10')).body as PageBody;
    const token = first.pagination.token!;
    const decoded = Buffer.from(token, 'base64url').toString();
    const forged = Buffer.from(decoded.replace(/^\d+/, '2990')).toString('base64url');
    for (const bad of [forged, 'garbage', `${token}x`, token.slice(0, -2)]) {
      const res = await api.get(`/api/v1.0/Identity?limit=10&token=${encodeURIComponent(bad)}`);
      expect(res.status, bad).toBe(400);
      expect(res.body.message).toMatch(/pagination token/i);
    }
    const elsewhere = await api.get(`/api/v1.0/Identity?limit=10&filter=upn:startswith:user&token=${token}`);
    expect(elsewhere.status).toBe(400);
    const otherResource = await api.get(`/api/v1.0/Group?token=${token}`);
    expect(otherResource.status).toBe(400);
  });

  it('caps limit at the maximum page size and rejects invalid limits', async () => {
    const capped = await api.get('/api/v1.0/Identity?limit=100000&field=upn');
    expect(capped.body.pagination).toMatchObject({ limit: 5000, total: 3000, next: null });
    expect(capped.body.data).toHaveLength(3000);
    for (const bad of ['0', '-1', 'ten', '1.5', '']) {
      const res = await api.get(`/api/v1.0/Identity?limit=${bad}`);
      if (bad === '') expect(res.status).toBe(200);
      else expect(res.status, bad).toBe(400);
    }
    expect((await api.get('/api/v1.0/Identity?limit=1&limit=2')).status).toBe(400);
  });

  it('honours custom defaultPageSize and maxPageSize', async () => {
    const small = await startApi(
      { users: () => USERS, groups: () => [] },
      { defaultPageSize: 50, maxPageSize: 200 },
    );
    try {
      expect((await small.get('/api/v1.0/Identity')).body.pagination).toMatchObject({ limit: 50 });
      expect((await small.get('/api/v1.0/Identity?limit=999')).body.pagination).toMatchObject({ limit: 200 });
    } finally {
      await small.close();
    }
  });

  it('rejects invalid page size options at construction', async () => {
    await expect(startApi({ users: () => [], groups: () => [] }, { maxPageSize: 0 })).rejects.toThrow(
      /maxPageSize/,
    );
  });

  it('returns an empty last page when the token points past the end', async () => {
    const users = [...USERS];
    const shrinking = await startApi({ users: () => users, groups: () => [] });
    try {
      const first = (await shrinking.get('/api/v1.0/Identity?limit=2000&field=upn')).body as PageBody;
      users.length = 1500;
      const second = await shrinking.get(first.pagination.next!);
      expect(second.body).toEqual({
        data: [],
        pagination: { total: 1500, limit: 2000, offset: 2000, next: null, token: null },
      });
    } finally {
      await shrinking.close();
    }
  });

  // Correctness only: speed belongs in bench/, not in a test a busy CI machine can fail.
  it('serves filtered pages over 3000 identities', async () => {
    for (let i = 0; i < 20; i++) {
      const res = await api.get(`/api/v1.0/Identity?filter=displayName:contains:last${i % 7}&limit=50`);
      expect(res.status).toBe(200);
      const body = res.body as { data: { displayName: string }[] };
      expect(body.data.length).toBeGreaterThan(0);
      for (const row of body.data) expect(row.displayName.toLowerCase()).toContain(`last${i % 7}`);
    }
  });
});
