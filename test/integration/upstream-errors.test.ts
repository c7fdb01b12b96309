import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { stringify } from 'yaml';
import { accounts } from '../fixtures/graphs/shop.ts';
import {
  post,
  startSubgraphs,
  startTestGateway,
  writeProject,
  type TestGateway,
} from '../helpers/env.ts';

type Behaviour = (res: ServerResponse, socket: Socket) => void;

/**
 * A subgraph that misbehaves on demand. Its schema composes; its answers do not: each test picks
 * a failure and checks that only its field fails, with a typed code and nothing internal leaked.
 */
const FLAKY_SDL = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Query { flaky: String }`;

describe('a subgraph that fails', () => {
  let good: Awaited<ReturnType<typeof startSubgraphs>>;
  let flaky: Server;
  let flakyUrl: string;
  let behaviour: Behaviour;
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateway: TestGateway;
  let devGateway: TestGateway;

  before(async () => {
    good = await startSubgraphs([accounts]);
    flaky = createServer((req, res) => {
      req.resume();
      req.once('end', () => behaviour(res, req.socket));
    });
    flaky.listen(0, '127.0.0.1');
    await once(flaky, 'listening');
    flakyUrl = `http://127.0.0.1:${(flaky.address() as AddressInfo).port}/graphql`;
    project = await writeProject([
      ...good.servers,
      { name: 'flaky', url: flakyUrl, sdl: FLAKY_SDL },
    ]);
    const config = {
      subgraphs: {
        accounts: { routing_url: good.servers[0]!.url, schema: { file: './accounts.graphql' } },
        flaky: { routing_url: flakyUrl, schema: { file: './flaky.graphql' }, timeout: '300ms' },
      },
    };
    await project.write('supergraph.yaml', stringify(config));
    gateway = await startTestGateway({
      configFile: project.configFile,
      server: { mode: 'production' },
    });
    devGateway = await startTestGateway({
      configFile: project.configFile,
      server: { mode: 'development' },
    });
  });

  after(async () => {
    await gateway.close();
    await devGateway.close();
    flaky.closeAllConnections();
    flaky.close();
    await good.close();
    await project.remove();
  });

  const query = { query: '{ me { name } flaky }' };

  /**
   * The flaky field fails with `code`, in an error at its path; the rest of the data is there;
   * nothing internal leaks. (`serviceName` is Apollo Gateway's name for the subgraph, added to
   * every error a fetch's response carries.)
   */
  async function expectFieldFailure(code: string, extra: Record<string, unknown> = {}) {
    const res = await post(gateway.url, query);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.data, { me: { name: 'Ada Lovelace' }, flaky: null });
    assert.equal(res.json.errors.length, 1);
    const [error] = res.json.errors;
    assert.deepEqual(error.path, ['flaky']);
    assert.deepEqual(error.extensions, { code, subgraph: 'flaky', serviceName: 'flaky', ...extra });
    assert.doesNotMatch(res.text, /127\.0\.0\.1|stacktrace|<html|ECONN|secret/i);
    return error;
  }

  const respond =
    (status: number, type: string, body: string): Behaviour =>
    (res) => {
      res.writeHead(status, { 'content-type': type }).end(body);
    };

  test('an HTML 500 page fails the field with UPSTREAM_ERROR and the status', async () => {
    behaviour = respond(500, 'text/html', '<html><body>secret stack at db.internal</body></html>');
    const error = await expectFieldFailure('UPSTREAM_ERROR', { upstreamStatus: 500 });
    assert.equal(error.message, 'Subgraph "flaky" answered HTTP 500.');
    const logged = gateway.logs.lines.filter((l) => l.msg === error.message);
    assert.equal(logged.length, 1);
    assert.equal(logged[0]!.level, 50);
    assert.match(JSON.stringify(logged[0]!.err), /secret stack at db\.internal/, 'the body');
  });

  test('a 401 fails the field with UNAUTHENTICATED', async () => {
    behaviour = respond(401, 'application/json', '{"error":"secret realm"}');
    await expectFieldFailure('UNAUTHENTICATED', { upstreamStatus: 401 });
  });

  test('a 200 with a body that is not JSON fails the field with UPSTREAM_ERROR', async () => {
    behaviour = respond(200, 'text/plain', 'secret: all good');
    const error = await expectFieldFailure('UPSTREAM_ERROR', { upstreamStatus: 200 });
    assert.equal(
      error.message,
      'Subgraph "flaky" answered with content type text/plain instead of JSON.',
    );
  });

  test('malformed JSON fails the field with UPSTREAM_ERROR', async () => {
    behaviour = respond(200, 'application/json', '{"data": {"flaky": ');
    const error = await expectFieldFailure('UPSTREAM_ERROR', { upstreamStatus: 200 });
    assert.equal(error.message, 'Subgraph "flaky" answered with malformed JSON.');
  });

  test('JSON that is not a GraphQL response fails the field with UPSTREAM_ERROR', async () => {
    behaviour = respond(200, 'application/json', '[1, 2, 3]');
    const error = await expectFieldFailure('UPSTREAM_ERROR', { upstreamStatus: 200 });
    assert.equal(
      error.message,
      'Subgraph "flaky" answered with JSON that is not a GraphQL response.',
    );
  });

  test('a subgraph that hangs fails the field with GATEWAY_TIMEOUT after its timeout', async () => {
    behaviour = () => {};
    const started = performance.now();
    const error = await expectFieldFailure('GATEWAY_TIMEOUT');
    // The timeout is 300 ms; the bound below only proves the request did not wait for the socket.
    assert.ok(performance.now() - started < 5_000);
    assert.equal(error.message, 'Subgraph "flaky" did not answer within 300 ms.');
  });

  test('a connection reset fails the field with UPSTREAM_UNAVAILABLE', async () => {
    behaviour = (_res, socket) => socket.destroy();
    const error = await expectFieldFailure('UPSTREAM_UNAVAILABLE');
    assert.equal(error.message, 'Subgraph "flaky" is unavailable.');
  });

  test('development mode shows the same code with the stack trace for debugging', async () => {
    behaviour = respond(502, 'text/html', '<html>bad gateway</html>');
    const res = await post(devGateway.url, query);
    assert.equal(res.json.errors[0].extensions.code, 'UPSTREAM_ERROR');
    assert.ok(Array.isArray(res.json.errors[0].extensions.stacktrace));
  });

  test('a subgraph error is masked in production but keeps its code and path', async () => {
    behaviour = respond(
      200,
      'application/json',
      JSON.stringify({
        data: { flaky: null },
        errors: [
          {
            message: 'secret: connect ECONNREFUSED 10.1.2.3:5432',
            path: ['flaky'],
            extensions: { code: 'INTERNAL_SERVER_ERROR' },
          },
        ],
      }),
    );
    const res = await post(gateway.url, query);
    assert.deepEqual(res.json.data, { me: { name: 'Ada Lovelace' }, flaky: null });
    assert.equal(res.json.errors[0].message, 'Subgraph "flaky" returned an error.');
    assert.equal(res.json.errors[0].extensions.code, 'INTERNAL_SERVER_ERROR');
    assert.doesNotMatch(res.text, /secret|10\.1\.2\.3/);
    const logged = gateway.logs.text();
    assert.match(logged, /10\.1\.2\.3/, 'the log keeps the full message');
  });

  test('a subgraph that is down fails its field with UPSTREAM_UNAVAILABLE and the gateway keeps serving', async () => {
    flaky.closeAllConnections();
    await new Promise<void>((resolve) => flaky.close(() => resolve()));
    await expectFieldFailure('UPSTREAM_UNAVAILABLE');
    const res = await post(gateway.url, { query: '{ me { name } }' });
    assert.deepEqual(res.json, { data: { me: { name: 'Ada Lovelace' } } });
  });
});
