import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import type { ReloadOutcome } from '../../src/runtime/snapshot-manager.ts';
import { configSource } from '../../src/runtime/sources.ts';
import { ServerConfig } from '../../src/config/schema.ts';
import { createLogger } from '../../src/observability/log.ts';
import { startGateway } from '../../src/server/main.ts';
import { accounts } from '../fixtures/graphs/shop.ts';
import {
  get,
  LogCapture,
  post,
  startGatewayOver,
  startSubgraphs,
  writeProject,
  type GatewayOver,
} from '../helpers/env.ts';

/**
 * Issue 21: in production the details of /readyz (reload errors with file snippets, backend
 * names) and /metrics are served on the admin listener, loopback by default; the public port
 * keeps /healthz and a plain readiness answer.
 */
describe('the admin listener in production mode', () => {
  let env: GatewayOver;
  before(async () => {
    env = await startGatewayOver([accounts]);
    await post(env.gateway.url, { query: '{ me { id } }' });
  });
  after(() => env.close());

  test('the public /readyz answers its status alone', async () => {
    const ready = await get(`${env.gateway.origin}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json, { status: 'ready' });
  });

  test('the public port serves /healthz and no /metrics', async () => {
    assert.equal((await get(`${env.gateway.origin}/healthz`)).status, 200);
    assert.equal((await get(`${env.gateway.origin}/metrics`)).status, 404);
  });

  test('the admin listener serves /readyz with its details, /healthz and /metrics', async () => {
    const admin = env.gateway.running.adminOrigin;
    assert.ok(admin, 'no admin listener was opened');
    assert.notEqual(admin, env.gateway.origin);
    const ready = await get(`${admin}/readyz`);
    assert.equal(ready.status, 200);
    assert.match(ready.json.supergraph.hash, /^[0-9a-f]{64}$/);
    assert.deepEqual(ready.json.supergraph.subgraphs, ['accounts']);
    assert.equal(ready.json.lastReloadError, null);
    assert.deepEqual((await get(`${admin}/healthz`)).json, { status: 'ok' });
    const metrics = await get(`${admin}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /^gateway_requests_total\{surface="graphql",/m);
  });

  test('the admin listener serves nothing else', async () => {
    const graphql = await post(`${env.gateway.running.adminOrigin}/graphql`, {
      query: '{ me { id } }',
    });
    assert.equal(graphql.status, 404);
    assert.equal(graphql.json.code, 5);
  });

  test('the start is logged with the admin listener beside the GraphQL URL, on loopback without a warning', async () => {
    const listening = await env.gateway.logs.find((l) => l.msg === 'gateway listening');
    assert.equal(listening.admin, env.gateway.running.adminOrigin);
    assert.match(String(listening.admin), /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(!env.gateway.logs.lines.some((l) => /not on loopback/.test(String(l.msg))));
  });

  test('after a broken reload the admin /readyz shows the error with its snippet; the public one does not', async () => {
    const original = await readFile(env.project.configFile, 'utf8');
    const manager = env.gateway.running.app.manager;
    const broken = once(manager, 'reload').then(([o]) => o as ReloadOutcome);
    await env.project.write('supergraph.yaml', `${original}server:\n  body_limit: lots\n`);
    assert.equal((await broken).ok, false);

    const detailed = await get(`${env.gateway.running.adminOrigin}/readyz`);
    assert.equal(detailed.status, 200);
    assert.match(
      detailed.json.lastReloadError.message,
      /supergraph\.yaml:\d+:\d+: server\.body_limit/,
    );
    assert.match(detailed.json.lastReloadError.message, / \| +body_limit: lots\n/);
    const plain = await get(`${env.gateway.origin}/readyz`);
    assert.deepEqual(plain.json, { status: 'ready' });

    const fixed = once(manager, 'reload').then(([o]) => o as ReloadOutcome);
    await env.project.write('supergraph.yaml', original);
    assert.equal((await fixed).ok, true);
  });
});

describe('the admin listener in development mode', () => {
  test('without server.admin everything stays on the public port', async (t) => {
    const env = await startGatewayOver([accounts], { server: { mode: 'development' } });
    t.after(() => env.close());
    assert.equal(env.gateway.running.adminOrigin, undefined);
    const ready = await get(`${env.gateway.origin}/readyz`);
    assert.deepEqual(ready.json.supergraph.subgraphs, ['accounts']);
    assert.equal((await get(`${env.gateway.origin}/metrics`)).status, 200);
    const listening = await env.gateway.logs.find((l) => l.msg === 'gateway listening');
    assert.equal(listening.admin, undefined);
  });

  test('with server.admin given, the details and the metrics move there', async (t) => {
    const env = await startGatewayOver([accounts], {
      // 8088 as written; the test helper moves it to a free port.
      config: { server: { mode: 'development', admin: { port: 8088 } } },
    });
    t.after(() => env.close());
    const admin = env.gateway.running.adminOrigin;
    assert.ok(admin, 'no admin listener was opened');
    assert.deepEqual((await get(`${env.gateway.origin}/readyz`)).json, { status: 'ready' });
    assert.equal((await get(`${admin}/metrics`)).status, 200);
  });
});

test('production with server.admin.enabled false keeps everything on the public port', async (t) => {
  const env = await startGatewayOver([accounts], {
    config: { server: { admin: { enabled: false } } },
  });
  t.after(() => env.close());
  assert.equal(env.gateway.running.adminOrigin, undefined);
  assert.deepEqual((await get(`${env.gateway.origin}/readyz`)).json.supergraph.subgraphs, [
    'accounts',
  ]);
  assert.equal((await get(`${env.gateway.origin}/metrics`)).status, 200);
});

test('draining turns both readiness answers 503, and the admin listener closes with the gateway', async (t) => {
  const env = await startGatewayOver([accounts], { server: { shutdown_delay: 1_000 } });
  t.after(() => env.close());
  const admin = env.gateway.running.adminOrigin;
  const stopped = env.gateway.running.shutdown();
  const plain = await get(`${env.gateway.origin}/readyz`);
  assert.deepEqual([plain.status, plain.json], [503, { status: 'draining' }]);
  const detailed = await get(`${admin}/readyz`);
  assert.equal(detailed.status, 503);
  assert.equal(detailed.json.status, 'draining');
  assert.deepEqual(detailed.json.supergraph.subgraphs, ['accounts']);
  assert.equal(await stopped, true);
  await assert.rejects(get(`${admin}/healthz`), { code: 'ECONNREFUSED' });
});

test('an admin host other than loopback is served, with a warning in the log', async (t) => {
  const env = await startGatewayOver([accounts], {
    config: { server: { admin: { host: '0.0.0.0' } } },
  });
  t.after(() => env.close());
  const warning = await env.gateway.logs.find((l) => /not on loopback/.test(String(l.msg)));
  assert.equal(warning.level, 40);
  assert.equal(warning.host, '0.0.0.0');
  const { port } = new URL(env.gateway.running.adminOrigin as string);
  assert.equal((await get(`http://127.0.0.1:${port}/healthz`)).status, 200);
});

/**
 * Starts a gateway with `settings(port)` while `port` is taken by another listener: the start
 * must fail with `expected`, and never say it listens.
 */
async function startOnTakenPort(
  t: TestContext,
  settings: (port: number) => Record<string, unknown>,
  expected: (port: number) => RegExp,
): Promise<void> {
  const taken = createServer().listen(0, '127.0.0.1');
  await once(taken, 'listening');
  t.after(() => taken.close());
  const { port } = taken.address() as AddressInfo;
  const subgraphs = await startSubgraphs([accounts]);
  const project = await writeProject(subgraphs.servers);
  t.after(async () => {
    await subgraphs.close();
    await project.remove();
  });
  const logs = new LogCapture();
  await assert.rejects(
    startGateway({
      source: configSource(project.configFile, {}),
      server: ServerConfig.parse({ hot_reload: false, ...settings(port) }),
      logger: createLogger({ level: 'info' }, logs),
    }),
    expected(port),
  );
  assert.ok(!logs.lines.some((l) => l.msg === 'gateway listening'));
}

test('a gateway port already taken fails the start with an error naming server.port and PORT', (t) =>
  startOnTakenPort(
    t,
    (port) => ({ port }),
    (port) =>
      new RegExp(
        `^Error: cannot listen on server\\.port ${port} \\(host 127\\.0\\.0\\.1\\): .*EADDRINUSE.*; set server\\.port \\(or PORT, --port\\) to a free port`,
      ),
  ));

test('an admin port already taken fails the start with an error naming server.admin.port', (t) =>
  startOnTakenPort(
    t,
    (port) => ({ port: 0, admin: { port } }),
    (port) =>
      new RegExp(
        `^Error: cannot listen on server\\.admin\\.port ${port} \\(host 127\\.0\\.0\\.1\\): .*EADDRINUSE`,
      ),
  ));
