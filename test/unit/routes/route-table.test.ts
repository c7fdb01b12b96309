import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RouteConfig } from '../../../src/config/schema.ts';
import { createRouteTable } from '../../../src/routes/route-table.ts';

const route = (input: Record<string, unknown>) => RouteConfig.parse(input);

test('the longest matching prefix wins, on whole segments only', () => {
  const table = createRouteTable([
    route({ path_prefix: '/api', backends: [{ url: 'http://a.test' }] }),
    route({ path_prefix: '/api/users', backends: [{ url: 'http://b.test' }] }),
  ]);
  const origin = (path: string) => {
    const found = table.match('GET', path, {});
    return found?.kind === 'route' ? found.backend.origin : undefined;
  };
  assert.equal(origin('/api/users/1'), 'http://b.test');
  assert.equal(origin('/api/users'), 'http://b.test');
  assert.equal(origin('/api/usersettings'), 'http://a.test');
  assert.equal(origin('/apiary'), undefined);
});

test('versioned routes send /v1 and /v2 to different backends', () => {
  const table = createRouteTable([
    route({ path_prefix: '/v1/things', backends: [{ url: 'http://old.test' }] }),
    route({
      path_prefix: '/v2/things',
      backends: [{ url: 'http://new.test/base' }],
      rewrite_prefix: '/things',
    }),
  ]);
  const v1 = table.match('GET', '/v1/things/7', {});
  const v2 = table.match('GET', '/v2/things/7', {});
  assert.ok(v1?.kind === 'route' && v2?.kind === 'route');
  assert.deepEqual([v1.backend.origin, v1.path], ['http://old.test', '/v1/things/7']);
  assert.deepEqual(
    [v2.backend.origin, v2.backend.basePath, v2.path],
    ['http://new.test', '/base', '/things/7'],
  );
});

test('a prefix rewritten to / strips it', () => {
  const table = createRouteTable([
    route({ path_prefix: '/api/users', rewrite_prefix: '/', backends: [{ url: 'http://a.test' }] }),
  ]);
  const found = table.match('GET', '/api/users/1', {});
  assert.ok(found?.kind === 'route');
  assert.equal(found.path, '/1');
});

test('methods and headers narrow a route; a method mismatch reports the allowed ones', () => {
  const table = createRouteTable([
    route({
      path_prefix: '/r',
      methods: ['GET'],
      headers: { 'x-tenant': 'blue' },
      backends: [{ url: 'http://blue.test' }],
    }),
    route({ path_prefix: '/r', methods: ['GET', 'POST'], backends: [{ url: 'http://any.test' }] }),
  ]);
  const pick = (method: string, headers = {}) => table.match(method, '/r', headers);
  const blue = pick('GET', { 'x-tenant': 'blue' });
  const other = pick('GET', { 'x-tenant': 'red' });
  assert.ok(blue?.kind === 'route' && other?.kind === 'route');
  assert.equal(blue.backend.origin, 'http://blue.test');
  assert.equal(other.backend.origin, 'http://any.test');
  assert.deepEqual(pick('DELETE'), { kind: 'method', allowed: ['GET', 'POST'] });
});

test('a header canary takes every request that carries the header, whatever the weights', () => {
  const table = createRouteTable([
    route({
      path_prefix: '/r',
      backends: [
        { url: 'http://stable.test', weight: 1 },
        { url: 'http://canary.test', weight: 0, when_headers: { 'x-canary': 'true' } },
      ],
    }),
  ]);
  for (let i = 0; i < 20; i++) {
    const canary = table.match('GET', '/r', { 'x-canary': 'true' });
    const stable = table.match('GET', '/r', {});
    assert.ok(canary?.kind === 'route' && stable?.kind === 'route');
    assert.equal(canary.backend.origin, 'http://canary.test');
    assert.equal(stable.backend.origin, 'http://stable.test');
  }
});

// 1,000 requests, 90/10: the canary's count is binomial with a standard deviation of about 9.5;
// the tolerance of ±40 is over four of them, so the test fails only when the split is wrong.
test('a weighted split sends each backend its share over 1,000 requests', () => {
  const table = createRouteTable([
    route({
      path_prefix: '/r',
      backends: [
        { url: 'http://stable.test', weight: 90 },
        { url: 'http://canary.test', weight: 10 },
      ],
    }),
  ]);
  let canary = 0;
  for (let i = 0; i < 1000; i++) {
    const found = table.match('GET', '/r', {});
    if (found?.kind === 'route' && found.backend.index === 1) canary++;
  }
  assert.ok(Math.abs(canary - 100) <= 40, `canary got ${canary} of 1000`);
});

test('split_by keeps each client on one backend and still splits clients by weight', () => {
  const table = createRouteTable([
    route({
      path_prefix: '/r',
      split_by: 'x-client-id',
      backends: [
        { url: 'http://stable.test', weight: 80 },
        { url: 'http://canary.test', weight: 20 },
      ],
    }),
  ]);
  // The same random draw every time: only the client id may decide.
  const pick = (id: string, random: () => number) => {
    const found = table.match('GET', '/r', { 'x-client-id': id }, random);
    return found?.kind === 'route' ? found.backend.index : -1;
  };
  let canary = 0;
  for (let i = 0; i < 1000; i++) {
    const id = `client-${i}`;
    const first = pick(id, () => 0);
    assert.equal(
      pick(id, () => 0.999),
      first,
      `client ${id} moved`,
    );
    if (first === 1) canary++;
  }
  // 1,000 distinct ids, 20%: a standard deviation of about 12.6; ±50 is about four.
  assert.ok(Math.abs(canary - 200) <= 50, `canary got ${canary} of 1000 clients`);
});

test('backends to avoid lose their share to the others while one is left', () => {
  const table = createRouteTable([
    route({
      path_prefix: '/r',
      backends: [
        { url: 'http://a.test', weight: 1 },
        { url: 'http://b.test', weight: 1 },
        { url: 'http://c.test', weight: 2 },
        { url: 'http://canary.test', weight: 0, when_headers: { 'x-canary': 'true' } },
      ],
    }),
  ]);
  const counts = new Map<string, number>();
  let seed = 0;
  // A fixed walk over [0, 1): each of 1,000 points once, so the shares are exact.
  const random = () => (seed++ % 1000) / 1000;
  const avoidC = (_: unknown, b: { origin: string }) => b.origin === 'http://c.test';
  for (let i = 0; i < 1000; i++) {
    const found = table.match('GET', '/r', {}, random, avoidC);
    assert.ok(found?.kind === 'route');
    counts.set(found.backend.origin, (counts.get(found.backend.origin) ?? 0) + 1);
  }
  assert.deepEqual(Object.fromEntries(counts), { 'http://a.test': 500, 'http://b.test': 500 });

  // A canary to avoid falls back to the split; with every backend to avoid, the usual split.
  const canary = table.match(
    'GET',
    '/r',
    { 'x-canary': 'true' },
    () => 0,
    (_, b) => b.origin.includes('canary'),
  );
  assert.ok(canary?.kind === 'route');
  assert.equal(canary.backend.origin, 'http://a.test');
  const all = table.match(
    'GET',
    '/r',
    {},
    () => 0.99,
    () => true,
  );
  assert.ok(all?.kind === 'route');
  assert.equal(all.backend.origin, 'http://c.test');
});
