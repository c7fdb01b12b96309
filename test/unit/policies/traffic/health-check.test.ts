import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Agent } from 'undici';
import { GrpcChannels } from '../../../../src/adapters/grpc/channels.ts';
import { checkHealth, HEALTH_PROTO } from '../../../../src/adapters/grpc/health.ts';
import {
  HEALTH_CHECK_USER_AGENT,
  HealthChecks,
  type HealthCheckSettings,
  type HealthTarget,
} from '../../../../src/policies/traffic/health-check.ts';
import { BackendDispatcher } from '../../../../src/runtime/backend-dispatcher.ts';
import { makeCertificates } from '../../../helpers/tls.ts';

/**
 * Real backends on loopback, checked every ~20 ms. Tests wait for what the checks observe (a
 * transition, a number of requests served) with a bound, never for a fixed time.
 */

const HTTP: HealthCheckSettings = {
  kind: 'http',
  path: '/health',
  service: '',
  intervalMs: 20,
  timeoutMs: 500,
  healthyThreshold: 2,
  unhealthyThreshold: 3,
};
const GRPC: HealthCheckSettings = { ...HTTP, kind: 'grpc', service: 'demo.orders.v1.OrderService' };

/** Polls `condition` every few ms; fails the test naming `what` if it is not met within 5 s. */
async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** An HTTP backend answering `status` at every path (or holding requests while `hang`). */
async function httpBackend(t: TestContext) {
  const backend = {
    status: 200,
    hang: false,
    /** Requests served, by path. */
    served: new Map<string, number>(),
    headers: [] as IncomingHttpHeaders[],
    held: [] as ServerResponse[],
    /** The most requests it had open at once. */
    mostOpen: 0,
    address: '',
    count: (path = '/health') => backend.served.get(path) ?? 0,
  };
  let open = 0;
  const server = createServer((request, response) => {
    backend.mostOpen = Math.max(backend.mostOpen, ++open);
    response.on('close', () => open--);
    const path = request.url ?? '';
    backend.served.set(path, backend.count(path) + 1);
    backend.headers.push(request.headers);
    if (backend.hang) backend.held.push(response);
    else response.writeHead(backend.status).end('{"status":"whatever"}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  backend.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return backend;
}

/** A grpc-js server whose grpc.health.v1 Check answers `statuses[service]` (NOT_FOUND if absent). */
async function grpcBackend(t: TestContext, credentials = grpc.ServerCredentials.createInsecure()) {
  const statuses = new Map<string, string>([
    ['', 'SERVING'],
    [GRPC.service, 'SERVING'],
  ]);
  const health = grpc.loadPackageDefinition(protoLoader.loadSync(HEALTH_PROTO)) as unknown as {
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  const server = new grpc.Server();
  server.addService(health.grpc.health.v1.Health.service, {
    Check(
      call: grpc.ServerUnaryCall<{ service: string }, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) {
      const status = statuses.get(call.request.service);
      if (status) callback(null, { status });
      else callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  t.after(() => server.forceShutdown());
  return { statuses, address: `127.0.0.1:${port}` };
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<string> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return `127.0.0.1:${port}`;
}

/**
 * The checker under test, with the transitions it reports as `key address healthy|unhealthy`;
 * a dispatcher given is the test's to close.
 */
function healthChecks(t: TestContext, options: { random?: () => number; dispatcher?: Agent } = {}) {
  const own = options.dispatcher === undefined;
  const dispatcher = options.dispatcher ?? new Agent();
  const channels = new GrpcChannels();
  const changes: string[] = [];
  const checks: HealthChecks = new HealthChecks({
    dispatcher,
    channels,
    checkGrpcHealth: checkHealth,
    onChange: (key, address, healthy) => {
      // What the verdict rests on when it flips: the run of results that flipped it.
      const { consecutive } = checks.describe(key, address)!;
      changes.push(`${key} ${address} ${healthy ? 'healthy' : 'unhealthy'} after ${consecutive}`);
    },
    ...(options.random ? { random: options.random } : {}),
  });
  t.after(async () => {
    checks.close();
    channels.close();
    if (own) await dispatcher.close();
  });
  return { checks, changes };
}

const target = (address: string, settings = HTTP): HealthTarget => ({
  key: 'users',
  address,
  settings,
});

test('an instance is unchecked until its first check, then presumed healthy until the threshold', async (t) => {
  const backend = await httpBackend(t);
  backend.status = 503;
  // The first check at once, the next a minute later: exactly one check runs in this test.
  const { checks, changes } = healthChecks(t, { random: () => 0 });
  checks.set([target(backend.address, { ...HTTP, intervalMs: 60_000 })]);
  assert.equal(checks.healthOf('users', backend.address), undefined);
  assert.equal(checks.describe('users', backend.address), undefined);

  await until('the first check', () => checks.describe('users', backend.address) !== undefined);
  // One failure of the three it takes: still healthy, and nobody was told anything.
  assert.equal(checks.healthOf('users', backend.address), true);
  const report = checks.describe('users', backend.address)!;
  assert.equal(report.healthy, true);
  assert.equal(report.lastError, 'HTTP 503');
  assert.equal(report.consecutive, 1);
  assert.equal(typeof report.lastCheckAt, 'number');
  assert.deepEqual(changes, []);
  assert.equal(checks.healthOf('orders', backend.address), undefined);
});

test('failures in a row make an instance unhealthy, passes in a row healthy again, each reported once', async (t) => {
  const backend = await httpBackend(t);
  const { checks, changes } = healthChecks(t);
  checks.set([target(backend.address)]);
  await until('a passing check', () => checks.healthOf('users', backend.address) === true);

  backend.status = 503;
  await until('the instance to turn unhealthy', () => changes.length === 1);
  assert.equal(checks.healthOf('users', backend.address), false);

  backend.status = 204;
  await until('the instance to turn healthy', () => changes.length === 2);
  assert.equal(checks.healthOf('users', backend.address), true);
  assert.deepEqual(changes, [
    `users ${backend.address} unhealthy after 3`, // unhealthyThreshold
    `users ${backend.address} healthy after 2`, // healthyThreshold
  ]);

  // More passes change nothing and tell nobody.
  const served = backend.count();
  await until('three more checks', () => backend.count() >= served + 3);
  assert.equal(changes.length, 2);
  const report = checks.describe('users', backend.address);
  assert.equal(report?.healthy, true);
  assert.equal(report?.lastError, undefined);
});

test('an HTTP check sends GET path with the Host header given and the checker as user-agent', async (t) => {
  const backend = await httpBackend(t);
  const { checks } = healthChecks(t);
  checks.set([{ ...target(backend.address), host: 'users.internal', scheme: 'http' }]);
  await until('a check', () => backend.count() > 0);
  assert.equal(backend.headers[0]?.host, 'users.internal');
  assert.equal(backend.headers[0]?.['user-agent'], HEALTH_CHECK_USER_AGENT);
});

test("an HTTPS check trusts the backend dispatcher's CA for its origin and names the host", async (t) => {
  const certificates = await makeCertificates();
  const seen: { servername: string | false | null; host: string | undefined }[] = [];
  const server = createHttpsServer(
    { cert: certificates.cert, key: certificates.key },
    (request, response) => {
      seen.push({
        servername: (request.socket as TLSSocket).servername,
        host: request.headers.host,
      });
      response.end('ok');
    },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The private CA applies to this origin only, as the config's `tls` of a backend does.
  const dispatcher = new BackendDispatcher();
  dispatcher.configure(new Map([[`https://${address}`, { ca: certificates.caFile }]]));
  t.after(() => dispatcher.destroyAll());

  const { checks } = healthChecks(t, { dispatcher });
  checks.set([{ ...target(address), scheme: 'https', host: 'localhost' }]);
  await until('a passing check', () => checks.healthOf('users', address) === true);
  assert.deepEqual(seen[0], { servername: 'localhost', host: 'localhost' });
});

test('a check answered slower than the timeout fails', async (t) => {
  const backend = await httpBackend(t);
  backend.hang = true;
  const { checks, changes } = healthChecks(t);
  checks.set([target(backend.address, { ...HTTP, timeoutMs: 30, unhealthyThreshold: 2 })]);
  await until('the instance to turn unhealthy', () => changes.length === 1);
  assert.equal(checks.healthOf('users', backend.address), false);
  assert.equal(checks.describe('users', backend.address)?.lastError, 'timed out after 30 ms');
  // Each check ended (the connection dropped) before the next began: never two at once.
  assert.equal(backend.mostOpen, 1);
});

test('an instance nothing listens on fails its checks', async (t) => {
  const address = await closedPort();
  const { checks, changes } = healthChecks(t);
  checks.set([target(address, { ...HTTP, unhealthyThreshold: 2 })]);
  await until('the instance to turn unhealthy', () => changes.length === 1);
  assert.deepEqual(changes, [`users ${address} unhealthy after 2`]);
  assert.match(checks.describe('users', address)?.lastError ?? '', /ECONNREFUSED/);
});

test('a gRPC check passes on SERVING of its service and fails on anything else', async (t) => {
  const backend = await grpcBackend(t);
  const { checks, changes } = healthChecks(t);
  checks.set([{ key: 'orders', address: backend.address, settings: GRPC }]);
  await until('a passing check', () => checks.healthOf('orders', backend.address) === true);

  // The whole server still serves; the service asked about does not.
  backend.statuses.set(GRPC.service, 'NOT_SERVING');
  await until('the instance to turn unhealthy', () => changes.length === 1);
  assert.equal(checks.describe('orders', backend.address)?.lastError, 'grpc.health.v1 NOT_SERVING');

  backend.statuses.set(GRPC.service, 'SERVING');
  await until('the instance to turn healthy', () => changes.length === 2);

  backend.statuses.delete(GRPC.service);
  await until('the instance to turn unhealthy again', () => changes.length === 3);
  assert.equal(
    checks.describe('orders', backend.address)?.lastError,
    'grpc.health.v1 SERVICE_UNKNOWN',
  );
  assert.deepEqual(changes, [
    `orders ${backend.address} unhealthy after 3`,
    `orders ${backend.address} healthy after 2`,
    `orders ${backend.address} unhealthy after 3`,
  ]);
});

test('a gRPC instance nothing listens on fails its checks', async (t) => {
  const address = await closedPort();
  const { checks, changes } = healthChecks(t);
  checks.set([{ key: 'orders', address, settings: { ...GRPC, unhealthyThreshold: 1 } }]);
  await until('the instance to turn unhealthy', () => changes.length === 1);
  assert.equal(checks.describe('orders', address)?.lastError, 'grpc.health.v1 UNREACHABLE');
});

test('a gRPC check over TLS uses the roots and server name of the target', async (t) => {
  const certificates = await makeCertificates();
  const backend = await grpcBackend(
    t,
    grpc.ServerCredentials.createSsl(null, [
      { private_key: certificates.key, cert_chain: certificates.cert },
    ]),
  );
  const { checks, changes } = healthChecks(t);
  const settings = { ...GRPC, unhealthyThreshold: 1 };
  checks.set([
    {
      key: 'orders',
      address: backend.address,
      tls: { ca: certificates.ca, serverName: 'localhost' },
      settings,
    },
    // The same instance asked in plaintext: the TLS port does not answer it.
    { key: 'orders-plaintext', address: backend.address, settings },
  ]);
  await until('a passing check', () => checks.healthOf('orders', backend.address) === true);
  await until('the plaintext check to fail', () => changes.length === 1);
  assert.deepEqual(changes, [`orders-plaintext ${backend.address} unhealthy after 1`]);
});

test('set() keeps the state of unchanged targets and stops checking removed ones', async (t) => {
  const kept = await httpBackend(t);
  const removed = await httpBackend(t);
  kept.status = 503;
  const { checks, changes } = healthChecks(t);
  const settings = { ...HTTP, unhealthyThreshold: 1 };
  checks.set([target(kept.address, settings), target(removed.address, settings)]);
  await until('the failing instance to turn unhealthy', () => changes.length === 1);
  await until('a check of the other', () => checks.healthOf('users', removed.address) === true);

  // An equal target, rebuilt as a reload would: the verdict stays, and nobody is told anything.
  checks.set([target(kept.address, { ...settings })]);
  assert.equal(checks.healthOf('users', kept.address), false);
  assert.equal(checks.healthOf('users', removed.address), undefined);
  assert.equal(checks.describe('users', removed.address), undefined);

  // A check of the removed one in flight may still arrive; none starts after it.
  let served = kept.count();
  await until('three more checks of the kept one', () => kept.count() >= served + 3);
  const removedServed = removed.count();
  served = kept.count();
  await until('three more checks of the kept one', () => kept.count() >= served + 3);
  assert.equal(removed.count(), removedServed);
  assert.deepEqual(changes, [`users ${kept.address} unhealthy after 1`]);
});

test('set() with an unchanged target neither restarts its timer nor checks it early', async (t) => {
  const backend = await httpBackend(t);
  const reference = await httpBackend(t);
  // First checks at once, the next a minute later: a restarted timer would check again at once.
  const { checks } = healthChecks(t, { random: () => 0 });
  const slow = { ...HTTP, intervalMs: 60_000 };
  checks.set([target(backend.address, slow)]);
  await until('the first check', () => checks.healthOf('users', backend.address) === true);

  checks.set([target(backend.address, { ...slow }), target(reference.address)]);
  await until('three checks of another target', () => reference.count() >= 3);
  assert.equal(backend.count(), 1);
});

test('a target whose check changed keeps its verdict and is checked the new way', async (t) => {
  const backend = await httpBackend(t);
  backend.status = 503;
  const { checks, changes } = healthChecks(t);
  checks.set([target(backend.address, { ...HTTP, unhealthyThreshold: 1 })]);
  await until('the instance to turn unhealthy', () => changes.length === 1);

  checks.set([target(backend.address, { ...HTTP, path: '/ready', unhealthyThreshold: 1 })]);
  assert.equal(checks.healthOf('users', backend.address), false);
  await until('a check of the new path', () => backend.count('/ready') > 0);
  backend.status = 200;
  await until('the instance to turn healthy', () => changes.length === 2);
  assert.deepEqual(changes, [
    `users ${backend.address} unhealthy after 1`,
    `users ${backend.address} healthy after 2`,
  ]);
});

test('close() stops every check and reports nothing of a check in flight', async (t) => {
  const stopped = await httpBackend(t);
  const reference = await httpBackend(t);
  stopped.hang = true;
  const { checks, changes } = healthChecks(t);
  const settings = { ...HTTP, timeoutMs: 5_000, unhealthyThreshold: 1 };
  checks.set([target(stopped.address, settings)]);
  await until('a check in flight', () => stopped.count() === 1);

  checks.close();
  assert.equal(checks.healthOf('users', stopped.address), undefined);
  // Its answer arrives (a failure that would flip it) after close: nobody hears of it.
  for (const response of stopped.held) if (!response.destroyed) response.writeHead(503).end();
  checks.set([target(stopped.address, settings)]);

  // Another checker's rounds measure time passing without a second check of the closed one.
  const other = healthChecks(t);
  other.checks.set([target(reference.address)]);
  await until('three checks elsewhere', () => reference.count() >= 3);
  assert.equal(stopped.count(), 1);
  assert.deepEqual(changes, []);
  assert.deepEqual(other.changes, []);
});
