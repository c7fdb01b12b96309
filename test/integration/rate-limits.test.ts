import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { stringify } from 'yaml';
import { startUsersRest, type RunningBackend } from '../../demo/backends/users-rest.ts';
import type { Clock } from '../../src/kernel/clock.ts';
import { startLibraryServer } from '../fixtures/protos/library-server.ts';
import {
  get,
  post,
  startSubgraphs,
  startHttpBackend,
  startTestGateway,
  writeProject,
  type HttpResult,
  type TestGateway,
} from '../helpers/env.ts';
import { asCaller, withTestIdentity } from '../helpers/identity.ts';
import { everySurfaceConfig, getUserOverGrpc } from '../helpers/surfaces.ts';
import type { SubgraphServerOptions } from '../helpers/subgraph-server.ts';

/** A graph whose operations cost what the test needs: an object field costs 1, a scalar 0. */
const tree: Omit<SubgraphServerOptions, 'port'> = {
  name: 'tree',
  sdl: `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Node { id: ID! broken: String }
type Query { node: Node }`,
  resolvers: {
    Query: { node: () => ({ id: '1' }) },
    Node: {
      broken: () => {
        throw new Error('no');
      },
    },
  },
};

/** `{ a0: node { id } a1: node { id } ... }`: `n` object fields, cost `n`. */
const costing = (n: number) =>
  `{ ${Array.from({ length: n }, (_, i) => `a${i}: node { id }`).join(' ')} }`;
const ONE = '{ node { id } }';

/** Time the gateway's limiter reads; tests move it by hand. */
class FakeClock implements Clock {
  ms = 1_000_000;
  now(): number {
    return this.ms;
  }
  /** Past every window the tests use: every budget is whole again. */
  fresh(): void {
    this.ms += 3_600_000;
  }
}

/** The subgraph and a gateway with `limits.rate`, `server` and the test identity stage. */
async function start(rate: object, server: object = {}) {
  const clock = new FakeClock();
  const subgraphs = await startSubgraphs([tree]);
  // Dedup off: each admitted request makes its own backend call, so calls count admissions.
  const project = await writeProject(subgraphs.servers, {
    limits: { rate },
    traffic: { dedup: { enabled: false } },
  });
  const gateway = await startTestGateway({
    configFile: project.configFile,
    server,
    clock,
    stages: withTestIdentity(),
  });
  return {
    clock,
    gateway,
    backend: subgraphs.byName('tree'),
    query: (query: string, headers: Record<string, string> = {}) =>
      post(gateway.url, { query }, headers),
    async close() {
      await gateway.close();
      await subgraphs.close();
      await project.remove();
    },
  };
}

const code = (res: HttpResult) => res.json?.errors?.[0]?.extensions?.code;

describe('rate limits in requests on the GraphQL surface', () => {
  let env: Awaited<ReturnType<typeof start>>;
  const L = 5;

  before(async () => {
    env = await start({
      policies: [{ name: 'per-10s', limit: L, window: '10s', plans: { gold: 8 } }],
    });
  });
  after(() => env.close());

  test('with limit L, 2L concurrent requests: exactly L admitted, no backend call for the others', async () => {
    env.clock.fresh();
    const calls = env.backend.received.length;
    const answers = await Promise.all(Array.from({ length: 2 * L }, () => env.query(ONE)));
    const admitted = answers.filter((r) => r.status === 200);
    const refused = answers.filter((r) => r.status === 429);
    assert.equal(admitted.length, L);
    assert.equal(refused.length, L);
    for (const res of refused) assert.equal(code(res), 'RATE_LIMITED');
    assert.equal(env.backend.received.length - calls, L);
  });

  test('successful answers carry RateLimit-Policy and RateLimit; a refusal adds Retry-After', async () => {
    env.clock.fresh();
    const first = await env.query(ONE);
    assert.equal(first.headers['ratelimit-policy'], '"per-10s";q=5;w=10');
    // One spent: 4 left; everything spent leaves the window 10 s from now.
    assert.equal(first.headers['ratelimit'], '"per-10s";r=4;t=10');
    assert.equal(first.headers['retry-after'], undefined);
    for (let i = 1; i < L; i++) await env.query(ONE);
    env.clock.ms += 4_000;
    const refused = await env.query(ONE);
    assert.equal(refused.status, 429);
    // The first of the five leaves the window 10 s after it came, 6 s from now.
    assert.equal(refused.headers['retry-after'], '6');
    assert.equal(refused.headers['ratelimit'], '"per-10s";r=0;t=6');
    assert.equal(refused.headers['ratelimit-policy'], '"per-10s";q=5;w=10');
    assert.equal(refused.json.data, undefined);
    assert.deepEqual(refused.json.errors[0].extensions, {
      code: 'RATE_LIMITED',
      policy: 'per-10s',
      limit: 5,
      window: 10,
      retryAfter: 6,
    });
    assert.match(refused.json.errors[0].message, /Rate limit "per-10s" reached/);
  });

  test('an answer with field errors carries the headers too', async () => {
    env.clock.fresh();
    const res = await env.query('{ node { id broken } }');
    assert.equal(res.status, 200);
    assert.equal(res.json.errors.length, 1);
    assert.equal(res.headers['ratelimit'], '"per-10s";r=4;t=10');
  });

  test('L just before a fixed window’s boundary and L just after: at most L in any window-long span', async () => {
    env.clock.fresh();
    // A fixed window ending at `boundary` would admit L before it and L more after it.
    const boundary = env.clock.ms + 10_000;
    env.clock.ms = boundary - 1;
    for (let i = 0; i < L; i++) assert.equal((await env.query(ONE)).status, 200);
    env.clock.ms = boundary + 1;
    for (let i = 0; i < L; i++) assert.equal((await env.query(ONE)).status, 429);
    // One window after the first L: 1 ms before, still refused; at it, admitted again.
    env.clock.ms = boundary - 1 + 10_000 - 1;
    assert.equal((await env.query(ONE)).status, 429);
    env.clock.ms += 1;
    for (let i = 0; i < L; i++) assert.equal((await env.query(ONE)).status, 200);
  });

  test('two API key clients and two token subjects have budgets of their own, and a plan its limit', async () => {
    env.clock.fresh();
    const callers = {
      acme: asCaller({ kind: 'api_key', subject: 'acme-key-1', clientId: 'acme' }),
      // Another key of the same client shares its budget.
      acme2: asCaller({ kind: 'api_key', subject: 'acme-key-2', clientId: 'acme' }),
      globex: asCaller({
        kind: 'api_key',
        subject: 'globex-key',
        clientId: 'globex',
        plan: 'gold',
      }),
      alice: asCaller({ kind: 'jwt', issuer: 'https://id.test/', subject: 'alice' }),
      bob: asCaller({ kind: 'jwt', issuer: 'https://id.test/', subject: 'bob' }),
    };
    for (let i = 0; i < L; i++) assert.equal((await env.query(ONE, callers.acme)).status, 200);
    assert.equal((await env.query(ONE, callers.acme2)).status, 429);
    for (const caller of [callers.alice, callers.bob]) {
      for (let i = 0; i < L; i++) assert.equal((await env.query(ONE, caller)).status, 200);
      assert.equal((await env.query(ONE, caller)).status, 429);
    }
    // The gold plan's limit is 8, and the headers say so.
    const gold = await env.query(ONE, callers.globex);
    assert.equal(gold.headers['ratelimit-policy'], '"per-10s";q=8;w=10');
    for (let i = 1; i < 8; i++) assert.equal((await env.query(ONE, callers.globex)).status, 200);
    assert.equal((await env.query(ONE, callers.globex)).status, 429);
    // Anonymous callers (by address) were not touched by any of them.
    assert.equal((await env.query(ONE)).status, 200);
  });

  test('without trusted proxies, X-Forwarded-For does not make a new caller', async () => {
    env.clock.fresh();
    for (let i = 0; i < L; i++) await env.query(ONE, { 'x-forwarded-for': `198.51.100.${i + 1}` });
    const res = await env.query(ONE, { 'x-forwarded-for': '198.51.100.99' });
    assert.equal(res.status, 429);
  });

  test('the refusing policy is in the request’s log line and counted by policy and surface', async () => {
    env.clock.fresh();
    for (let i = 0; i < L; i++) await env.query(ONE);
    await env.query(ONE, { 'x-correlation-id': 'rate-refused-1' });
    const line = await env.gateway.logs.find(
      (l) => l.msg === 'request' && l.correlationId === 'rate-refused-1',
    );
    assert.equal(line.rateLimited, 'per-10s');
    assert.equal(line.status, 429);
    assert.deepEqual(line.calls, []);
    const metrics = (await get(`${env.gateway.adminOrigin}/metrics`)).text;
    assert.match(metrics, /gateway_rate_limited_total\{policy="per-10s",surface="graphql"\} \d+/);
  });

  test('an operation refused before the stage (malformed, invalid, over a limit) spends nothing', async () => {
    env.clock.fresh();
    const strict = { accept: 'application/graphql-response+json' };
    for (let i = 0; i < 2 * L; i++) {
      assert.equal(code(await env.query('{ node {', strict)), 'GRAPHQL_PARSE_FAILED');
      assert.equal(code(await env.query('{ node { nope } }', strict)), 'GRAPHQL_VALIDATION_FAILED');
      // 21 root fields: over the default max_root_fields of 20.
      assert.equal(code(await env.query(costing(21))), 'MAX_ROOT_FIELDS_LIMIT');
    }
    assert.equal((await env.query(ONE)).headers['ratelimit'], '"per-10s";r=4;t=10');
  });
});

describe('rate limits in cost points, with requests, behind a trusted proxy', () => {
  let env: Awaited<ReturnType<typeof start>>;
  const from = (address: string) => ({ 'x-forwarded-for': address });

  before(async () => {
    env = await start(
      {
        policies: [
          { name: 'requests', limit: 3, window: '1m' },
          { name: 'points', unit: 'cost', limit: 10, window: '1m', surfaces: ['graphql'] },
        ],
      },
      { trusted_proxies: ['127.0.0.1'] },
    );
  });
  after(() => env.close());

  test('an aliased query is charged its estimated cost, all budgets at once or none', async () => {
    const caller = from('198.51.100.1');
    const first = await env.query(costing(4), caller);
    assert.equal(first.status, 200);
    assert.equal(
      first.headers['ratelimit-policy'],
      '"requests";q=3;w=60, "points";q=10;w=60;gateway-unit="cost-points"',
    );
    assert.equal(first.headers['ratelimit'], '"requests";r=2;t=60, "points";r=6;t=60');
    assert.equal((await env.query(costing(4), caller)).status, 200);
    const refused = await env.query(costing(4), caller);
    assert.equal(refused.status, 429);
    assert.equal(refused.json.errors[0].extensions.policy, 'points');
    assert.equal(refused.json.errors[0].extensions.cost, 4);
    assert.equal(refused.headers['retry-after'], '60');
    // The refused operation spent no request either: one request and 2 points are left.
    const cheap = await env.query(ONE, caller);
    assert.equal(cheap.status, 200);
    assert.equal(cheap.headers['ratelimit'], '"requests";r=0;t=60, "points";r=1;t=60');
  });

  test('behind a trusted proxy, each forwarded address has its own budget', async () => {
    for (const address of ['198.51.100.2', '198.51.100.3']) {
      for (let i = 0; i < 3; i++) assert.equal((await env.query(ONE, from(address))).status, 200);
      assert.equal((await env.query(ONE, from(address))).status, 429);
    }
  });

  test('an operation costing more than the whole budget is refused without Retry-After', async () => {
    const res = await env.query(costing(11), from('198.51.100.4'));
    assert.equal(res.status, 429);
    assert.equal(res.headers['retry-after'], undefined);
    assert.match(res.json.errors[0].message, /costs 11 cost points, more than the whole budget/);
    assert.equal(res.json.errors[0].extensions.policy, 'points');
    // Nothing was spent.
    assert.equal(
      (await env.query(ONE, from('198.51.100.4'))).headers['ratelimit'],
      '"requests";r=2;t=60, "points";r=9;t=60',
    );
  });
});

describe('rate limits on REST routes, transcoded methods and the gRPC port', () => {
  let users: RunningBackend;
  let library: Awaited<ReturnType<typeof startLibraryServer>>;
  let limited: { url: string; close(): Promise<void> };
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateway: TestGateway;
  const clock = new FakeClock();
  const usersCalls: string[] = [];

  before(async () => {
    users = await startUsersRest({ onRequest: (req) => usersCalls.push(String(req.url)) });
    library = await startLibraryServer();
    // A backend with a limit of its own: every answer is 429.
    limited = await startHttpBackend((_req, res) => {
      res.writeHead(429, { 'retry-after': '7', 'content-type': 'application/json' });
      res.end('{"error":"slow down"}');
    });
    project = await writeProject([]);
    await project.write(
      'supergraph.yaml',
      stringify(
        everySurfaceConfig(users.url, library.address, {
          routes: [{ path_prefix: '/limited', backends: [{ url: limited.url }] }],
          limits: { rate: { policies: [{ name: 'calls', limit: 2, window: '30s' }] } },
        }),
      ),
    );
    gateway = await startTestGateway({ configFile: project.configFile, clock });
  });

  after(async () => {
    await gateway.close();
    await users.close();
    await library.close();
    await limited.close();
    await project.remove();
  });

  const restSurfaces = {
    route: (id: string) => get(`${gateway.origin}/api/users/1`, { 'x-correlation-id': id }),
    transcoded: (id: string) =>
      get(`${gateway.origin}/v1/shelves/1/books/2`, { 'x-correlation-id': id }),
  };

  for (const [surface, send] of Object.entries(restSurfaces)) {
    test(`${surface}: answers carry the headers; over the limit, 429 with a google.rpc.Status body before the backend`, async () => {
      clock.fresh();
      const ok = await send(`${surface}-ok`);
      assert.equal(ok.status, 200);
      assert.equal(ok.headers['ratelimit-policy'], '"calls";q=2;w=30');
      assert.equal(ok.headers['ratelimit'], '"calls";r=1;t=30');
      await send(`${surface}-ok2`);
      clock.ms += 10_000;
      const before = usersCalls.length;
      const id = `${surface}-refused`;
      const refused = await send(id);
      assert.equal(refused.status, 429);
      assert.equal(refused.headers['retry-after'], '20');
      assert.equal(refused.headers['ratelimit'], '"calls";r=0;t=20');
      assert.equal(refused.json.code, 8);
      assert.equal(refused.json.details[0].reason, 'RATE_LIMITED');
      assert.equal(refused.json.details[0].metadata.policy, 'calls');
      assert.deepEqual(refused.json.details[1], {
        '@type': 'type.googleapis.com/google.rpc.RetryInfo',
        retryDelay: '20s',
      });
      assert.equal(usersCalls.length, before);
      const line = await gateway.logs.find((l) => l.msg === 'request' && l.correlationId === id);
      assert.equal(line.rateLimited, 'calls');
      assert.deepEqual(line.calls, []);
    });
  }

  test('the gRPC port: the headers as metadata, RESOURCE_EXHAUSTED with a retry hint over the limit', async () => {
    clock.fresh();
    const ok = await getUserOverGrpc(gateway.running.grpcAddress as string);
    assert.equal(ok.error, undefined);
    assert.deepEqual(ok.headers.get('ratelimit'), ['"calls";r=1;t=30']);
    assert.deepEqual(ok.headers.get('ratelimit-policy'), ['"calls";q=2;w=30']);
    await getUserOverGrpc(gateway.running.grpcAddress as string);
    const before = usersCalls.length;
    const refused = await getUserOverGrpc(gateway.running.grpcAddress as string);
    assert.equal(refused.error?.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(refused.error!.details, /Rate limit "calls" reached/);
    assert.deepEqual(refused.error!.metadata.get('retry-after'), ['30']);
    assert.deepEqual(refused.error!.metadata.get('grpc-retry-pushback-ms'), ['30000']);
    assert.deepEqual(refused.error!.metadata.get('ratelimit'), ['"calls";r=0;t=30']);
    assert.equal(usersCalls.length, before);
  });

  test('a backend’s own 429 passes through under its own code, and is not the gateway’s refusal', async () => {
    clock.fresh();
    const res = await get(`${gateway.origin}/limited/x`, { 'x-correlation-id': 'backend-429' });
    assert.equal(res.status, 429);
    assert.equal(res.headers['retry-after'], '7');
    // The gateway's budget was spent on it (1 of 2), and says so.
    assert.equal(res.headers['ratelimit'], '"calls";r=1;t=30');
    const line = await gateway.logs.find(
      (l) => l.msg === 'request' && l.correlationId === 'backend-429',
    );
    assert.equal(line.rateLimited, undefined);
    assert.equal((line.calls as { outcome: string }[])[0]?.outcome, 'UPSTREAM_RATE_LIMITED');
    const metrics = (await get(`${gateway.adminOrigin}/metrics`)).text;
    assert.match(metrics, /gateway_requests_total\{[^}]*outcome="UPSTREAM_RATE_LIMITED"\} 1/);
  });
});
