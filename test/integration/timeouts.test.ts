import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { stringify } from 'yaml';
import { loadUserService } from '../../demo/users-grpc.ts';
import { accounts } from '../fixtures/graphs/shop.ts';
import { mappingSource, startMappingServer } from '../fixtures/protos/mapping-server.ts';
import {
  get,
  post,
  startHttpBackend,
  startSubgraphs,
  startTestGateway,
  writeProject,
} from '../helpers/env.ts';

/**
 * Timeouts as Apollo Router answers them (docs/errors.md, "Apollo Router's codes"): a backend
 * past its own timeout fails its fields with GATEWAY_TIMEOUT and the rest of the answer stands;
 * the request past `server.request_timeout` ends whole with 504 and GATEWAY_TIMEOUT, and the
 * calls in flight are aborted. Every backend here accepts and never answers (or answers far
 * too late), so only a timeout can end a request; the bounds on time only prove it did not wait
 * for the backend.
 */

/** Accepts every request and never answers; each request is kept to see its connection end. */
async function startHangingBackend(t: TestContext) {
  const requests: IncomingMessage[] = [];
  const backend = await startHttpBackend((req) => void requests.push(req));
  t.after(() => {
    for (const req of requests) req.socket.destroy();
    return backend.close();
  });
  return {
    url: backend.url,
    requests,
    /** Resolves when the connection of the last request closes (the gateway aborted it). */
    async aborted(): Promise<void> {
      const socket = requests.at(-1)?.socket;
      assert.ok(socket, 'the backend was called');
      if (!socket.destroyed) await once(socket, 'close');
    },
  };
}

/** A gateway over `config` in a project of its own (reloads of one never touch another). */
async function startGatewayOver(t: TestContext, config: object) {
  const project = await writeProject([]);
  await project.write('supergraph.yaml', stringify(config));
  await Promise.all(
    Object.entries(SDL).map(([name, sdl]) => project.write(`${name}.graphql`, sdl)),
  );
  const gateway = await startTestGateway({ configFile: project.configFile });
  t.after(async () => {
    await gateway.close();
    await project.remove();
  });
  return gateway;
}

const SDL = {
  accounts: accounts.sdl,
  flaky: `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Query { flaky: String }`,
};

/** Well before any backend bound in these tests (10 s): the request did not wait for it. */
const WELL_BEFORE_MS = 5_000;

/** A 300 ms request budget over a graph no test here queries (routes and the gRPC port need one). */
const TIGHT_BUDGET_NO_GRAPH = {
  server: { request_timeout: '300ms' },
  subgraphs: {
    accounts: { routing_url: 'http://127.0.0.1:9/graphql', schema: { file: './accounts.graphql' } },
  },
};

/** What the request's own timeout answers on the GraphQL endpoint: Router's router timeout. */
const REQUEST_TIMEOUT_BODY = {
  errors: [
    {
      message: 'The request did not complete within 300 ms.',
      extensions: { code: 'GATEWAY_TIMEOUT' },
    },
  ],
};

describe('a hanging subgraph', () => {
  async function twoSubgraphs(t: TestContext, timeouts: { request: string; subgraph: string }) {
    const good = await startSubgraphs([accounts]);
    t.after(() => good.close());
    const hanging = await startHangingBackend(t);
    const gateway = await startGatewayOver(t, {
      server: { request_timeout: timeouts.request, batching: { enabled: true } },
      subgraphs: {
        accounts: { routing_url: good.servers[0]!.url, schema: { file: './accounts.graphql' } },
        flaky: {
          routing_url: `${hanging.url}/graphql`,
          schema: { file: './flaky.graphql' },
          timeout: timeouts.subgraph,
        },
      },
    });
    return { gateway, hanging };
  }

  /** A query over both subgraphs, which only a timeout can end this soon. */
  async function queryBoth(url: string) {
    const started = performance.now();
    const res = await post(url, { query: '{ me { name } flaky }' });
    assert.ok(performance.now() - started < WELL_BEFORE_MS);
    return res;
  }

  test('past its subgraph timeout gives partial data: its field null, GATEWAY_TIMEOUT at its path', async (t) => {
    const { gateway, hanging } = await twoSubgraphs(t, { request: '10s', subgraph: '300ms' });
    const res = await queryBoth(gateway.url);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.data, { me: { name: 'Ada Lovelace' }, flaky: null });
    assert.deepEqual(res.json.errors, [
      {
        message: 'Subgraph "flaky" did not answer within 300 ms.',
        path: ['flaky'],
        extensions: { code: 'GATEWAY_TIMEOUT', subgraph: 'flaky', serviceName: 'flaky' },
      },
    ]);
    await hanging.aborted();
  });

  test('past the request timeout gives 504 GATEWAY_TIMEOUT, and the fetch in flight is aborted', async (t) => {
    // 1 s, not 300 ms: the fetch must reach the backend before the budget ends, and a first
    // request's planning on a loaded machine can take a few hundred milliseconds.
    const { gateway, hanging } = await twoSubgraphs(t, { request: '1s', subgraph: '10s' });
    const res = await queryBoth(gateway.url);
    assert.equal(res.status, 504);
    assert.deepEqual(res.json, {
      errors: [
        {
          message: 'The request did not complete within 1000 ms.',
          extensions: { code: 'GATEWAY_TIMEOUT' },
        },
      ],
    });
    await hanging.aborted();
  });

  test('past the request timeout, a batch is answered 504 whole', async (t) => {
    const { gateway } = await twoSubgraphs(t, { request: '300ms', subgraph: '10s' });
    const res = await post(gateway.url, [{ query: '{ me { name } }' }, { query: '{ flaky }' }]);
    assert.equal(res.status, 504);
    assert.deepEqual(res.json, REQUEST_TIMEOUT_BODY);
  });
});

describe('a hanging REST route backend', () => {
  test('past the request timeout gives 504 DEADLINE_EXCEEDED with GATEWAY_TIMEOUT', async (t) => {
    const hanging = await startHangingBackend(t);
    const gateway = await startGatewayOver(t, {
      ...TIGHT_BUDGET_NO_GRAPH,
      routes: [
        { name: 'slow', path_prefix: '/slow', backends: [{ url: hanging.url }], timeout: '10s' },
      ],
    });
    const res = await get(`${gateway.origin}/slow/things`);
    assert.equal(res.status, 504);
    assert.equal(res.json.code, 4);
    assert.equal(res.json.message, 'The request did not complete within 300 ms.');
    assert.equal(res.json.details[0].reason, 'GATEWAY_TIMEOUT');
    await hanging.aborted();
  });
});

describe('a slow gRPC backend', () => {
  async function mapping(t: TestContext, timeouts: { request: string; source: string }) {
    const service = await startMappingServer();
    t.after(() => service.close());
    return startGatewayOver(t, {
      server: { request_timeout: timeouts.request },
      subgraphs: {
        mapping: {
          source: mappingSource(service.address, {
            timeout: timeouts.source,
            methods: { Slow: 'query' },
          }),
        },
      },
      transcode: { mapping: { subgraph: 'mapping' } },
    });
  }

  test('past its source timeout fails its field with GATEWAY_TIMEOUT, with partial data', async (t) => {
    const gateway = await mapping(t, { request: '10s', source: '300ms' });
    const res = await post(gateway.url, {
      query: '{ getNothing slow(millis: 10000) { aString } }',
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.data, { getNothing: true, slow: null });
    assert.equal(res.json.errors.length, 1);
    assert.deepEqual(res.json.errors[0].path, ['slow']);
    assert.equal(res.json.errors[0].extensions.code, 'GATEWAY_TIMEOUT');
    assert.equal(res.json.errors[0].extensions.grpcStatus, 'DEADLINE_EXCEEDED');
  });

  test('a transcoded call past the request timeout gives 504 DEADLINE_EXCEEDED with GATEWAY_TIMEOUT', async (t) => {
    const gateway = await mapping(t, { request: '300ms', source: '10s' });
    const started = performance.now();
    const res = await post(`${gateway.origin}/mapping.v1.MappingService/Slow`, { millis: 10_000 });
    assert.ok(performance.now() - started < WELL_BEFORE_MS);
    assert.equal(res.status, 504);
    assert.equal(res.json.code, 4);
    assert.equal(res.json.message, 'The request did not complete within 300 ms.');
    assert.equal(res.json.details[0].reason, 'GATEWAY_TIMEOUT');
  });
});

type Unary = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null) => void,
) => grpc.ClientUnaryCall;

describe('the gRPC port over a hanging REST backend', () => {
  test('past the request timeout answers DEADLINE_EXCEEDED naming the request timeout', async (t) => {
    const hanging = await startHangingBackend(t);
    const gateway = await startGatewayOver(t, {
      ...TIGHT_BUDGET_NO_GRAPH,
      grpc_server: {
        port: 0,
        services: {
          users: {
            protos: ['demo/users/v1/users.proto'],
            include_dirs: [new URL('../../protos', import.meta.url).pathname],
            base_url: hanging.url,
          },
        },
      },
    });
    const client = new (loadUserService())(
      gateway.running.grpcAddress as string,
      grpc.credentials.createInsecure(),
    );
    t.after(() => client.close());
    // The client's own deadline is far later: DEADLINE_EXCEEDED can only be the gateway's.
    const { GetUser } = client as unknown as { GetUser: Unary };
    const error = await new Promise<grpc.ServiceError | null>((resolve) =>
      GetUser.call(
        client,
        { id: '1' },
        new grpc.Metadata(),
        { deadline: Date.now() + 30_000 },
        resolve,
      ),
    );
    assert.equal(error?.code, grpc.status.DEADLINE_EXCEEDED);
    assert.equal(error?.details, 'The request did not complete within 300 ms.');
    await hanging.aborted();
  });
});
