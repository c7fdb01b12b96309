import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { startUsersRest, type RunningBackend } from '../../demo/backends/users-rest.ts';
import { accounts } from '../fixtures/graphs/shop.ts';
import {
  get,
  post,
  startSubgraphs,
  startTestGateway,
  writeProject,
  type TestGateway,
} from '../helpers/env.ts';

/**
 * What the request path promises at its edges: which client headers reach a native subgraph,
 * the correlation id on every response, and metric labels that stay bounded on REST surfaces.
 */
describe('the request path', () => {
  let subgraphs: Awaited<ReturnType<typeof startSubgraphs>>;
  let users: RunningBackend;
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateway: TestGateway;

  before(async () => {
    subgraphs = await startSubgraphs([accounts]);
    users = await startUsersRest();
    const server = subgraphs.servers[0]!;
    project = await writeProject([server]);
    await project.write(
      'supergraph.yaml',
      stringify({
        subgraphs: {
          accounts: {
            routing_url: server.url,
            schema: { file: './accounts.graphql' },
            headers: { 'x-gateway': 'federation', 'x-static': 'from-config' },
            forward_headers: ['x-tenant', 'x-static'],
          },
        },
        routes: [
          {
            name: 'users-api',
            path_prefix: '/api/users',
            rewrite_prefix: '/users',
            backends: [{ url: users.url }],
          },
        ],
      }),
    );
    gateway = await startTestGateway({ configFile: project.configFile });
  });

  after(async () => {
    await gateway.close();
    await users.close();
    await subgraphs.close();
    await project.remove();
  });

  test('a native subgraph gets the client headers its forward_headers name and its static headers, nothing else', async () => {
    const server = subgraphs.servers[0]!;
    const res = await post(
      gateway.url,
      { query: '{ me { id } }' },
      {
        'x-tenant': 'acme',
        'x-secret': 'do-not-pass',
        'x-static': 'from-client',
        'x-correlation-id': 'hdr-1',
      },
    );
    assert.equal(res.status, 200);
    const seen = server.received.at(-1)!.headers;
    assert.equal(seen['x-tenant'], 'acme');
    assert.equal(seen['x-gateway'], 'federation');
    // Static headers win over forwarded ones; the stages' correlation id over both.
    assert.equal(seen['x-static'], 'from-config');
    assert.equal(seen['x-correlation-id'], 'hdr-1');
    assert.equal(seen['x-secret'], undefined);
  });

  test('health, readiness and metrics answers carry the correlation id too', async () => {
    const onPublic = ['/healthz', '/readyz'].map((path) => `${gateway.origin}${path}`);
    const onAdmin = ['/healthz', '/readyz', '/metrics'].map(
      (path) => `${gateway.adminOrigin}${path}`,
    );
    for (const [index, url] of [...onPublic, ...onAdmin].entries()) {
      const given = await get(url, { 'x-correlation-id': `probe-${index}` });
      assert.equal(given.headers['x-correlation-id'], `probe-${index}`, url);
      const made = await get(url);
      assert.match(String(made.headers['x-correlation-id']), /^[0-9a-f-]{36}$/, url);
    }
  });

  test('a proxied route’s call is in its request’s log line, though its body streams to the end', async () => {
    await get(`${gateway.origin}/api/users/2`, { 'x-correlation-id': 'route-log-1' });
    const line: any = await gateway.logs.find(
      (l) => l.msg === 'request' && l.correlationId === 'route-log-1',
    );
    assert.deepEqual(
      line.calls.map((c: any) => [c.backend, c.kind, c.outcome]),
      [['users-api', 'route', 'ok']],
    );
  });

  test('REST requests are labelled by their route, not their path, in metrics', async () => {
    for (const id of ['1', '2', '3', '999']) await get(`${gateway.origin}/api/users/${id}`);
    const text = (await get(`${gateway.adminOrigin}/metrics`)).text;
    const rest = text
      .split('\n')
      .filter((l) => l.startsWith('gateway_requests_total{') && l.includes('surface="rest"'));
    assert.ok(
      rest.some((l) => l.includes('operation="users-api"')),
      rest.join('\n'),
    );
    assert.ok(!rest.some((l) => l.includes('/api/users/')), rest.join('\n'));
    // The route answered 404 for user 999: counted under its code, not as ok.
    assert.ok(
      rest.some((l) => l.includes('outcome="NOT_FOUND"')),
      rest.join('\n'),
    );
  });
});

describe('header rules in the config', () => {
  test('an adapter subgraph takes its headers under source, and says so', async () => {
    const project = await writeProject([]);
    try {
      await project.write(
        'supergraph.yaml',
        stringify({
          subgraphs: {
            users: {
              schema: { sdl: 'type Query { a: String @rest(get: "/a") }' },
              source: { kind: 'rest', base_url: 'http://127.0.0.1:9' },
              forward_headers: ['x-tenant'],
            },
          },
        }),
      );
      await assert.rejects(
        startTestGateway({ configFile: project.configFile }),
        /subgraphs\.users\.forward_headers: an adapter subgraph calls its backend itself: give source\.forward_headers instead/,
      );
    } finally {
      await project.remove();
    }
  });
});
