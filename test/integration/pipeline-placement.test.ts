import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { STAGES, type StageEntry } from '../../src/gateway/pipeline.ts';
import { ErrorCode, GatewayError } from '../../src/kernel/errors.ts';
import { accounts } from '../fixtures/graphs/shop.ts';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { stringify } from 'yaml';
import { startUsersRest, type RunningBackend } from '../../demo/backends/users-rest.ts';
import { startLibraryServer } from '../fixtures/protos/library-server.ts';
import { MAPPING_PROTOS } from '../fixtures/protos/mapping-server.ts';
import {
  get,
  post,
  startGatewayOver,
  startTestGateway,
  writeProject,
  type GatewayOver,
  type TestGateway,
} from '../helpers/env.ts';

/**
 * The placement test (after Apollo Router's): the real stage list, in its order, with a probe
 * after it that records what it saw and can refuse the request the way a policy stage would.
 */
describe('the request pipeline', () => {
  let env: GatewayOver;
  const seen: { correlationId: string; upstream: Record<string, string> }[] = [];
  let refuse = false;
  const operations: { name: string | undefined; cost: number | undefined }[] = [];
  let refuseOperation = false;

  // After the real list: it sees the operation and what estimateCost made of it, and can refuse
  // the way a rate limit spending that cost will.
  const operationProbe: StageEntry = {
    name: 'operationProbe',
    event: 'operation',
    run(ctx) {
      operations.push({ name: ctx.operation?.name, cost: ctx.facts.cost });
      if (refuseOperation) throw new GatewayError(ErrorCode.RATE_LIMITED, 'Over budget.');
    },
  };

  const probe: StageEntry = {
    name: 'probe',
    event: 'request',
    run(ctx) {
      seen.push({ correlationId: ctx.correlationId, upstream: { ...ctx.upstreamHeaders } });
      if (refuse) throw new GatewayError(ErrorCode.UNAUTHENTICATED, 'No credentials.');
    },
  };

  before(async () => {
    env = await startGatewayOver([accounts], { stages: [...STAGES, probe, operationProbe] });
  });

  after(() => env.close());

  test('runs the inbound stages in their written order', () => {
    assert.deepEqual(
      STAGES.map((s) => `${s.event}:${s.name}`),
      ['request:correlate', 'operation:estimateCost'],
    );
  });

  test('operation stages see the resolved operation and its estimated cost', async () => {
    operations.length = 0;
    await post(env.gateway.url, { query: 'query Me { me { id } }' });
    assert.deepEqual(operations, [{ name: 'Me', cost: 1 }]);
  });

  test('an operation stage that throws ends the request before any subgraph is called', async () => {
    refuseOperation = true;
    try {
      const before = env.subgraphs.servers[0]!.received.length;
      const res = await post(env.gateway.url, { query: '{ me { id } }' });
      assert.equal(res.status, 429);
      assert.equal(res.json.errors[0].extensions.code, 'RATE_LIMITED');
      assert.equal(res.json.data, undefined);
      assert.equal(env.subgraphs.servers[0]!.received.length, before);
    } finally {
      refuseOperation = false;
    }
  });

  test('a later stage sees what earlier stages set', async () => {
    seen.length = 0;
    await post(env.gateway.url, { query: '{ me { id } }' }, { 'x-correlation-id': 'order-1' });
    assert.deepEqual(seen, [
      { correlationId: 'order-1', upstream: { 'x-correlation-id': 'order-1' } },
    ]);
  });

  test('a stage that throws ends the request with its code and status before any subgraph is called', async () => {
    refuse = true;
    try {
      const before = env.subgraphs.servers[0]!.received.length;
      const res = await post(env.gateway.url, { query: '{ me { id } }' });
      assert.equal(res.status, 401);
      assert.deepEqual(res.json, {
        errors: [{ message: 'No credentials.', extensions: { code: 'UNAUTHENTICATED' } }],
      });
      assert.match(String(res.headers['x-correlation-id']), /^[0-9a-f-]{36}$/);
      assert.equal(env.subgraphs.servers[0]!.received.length, before);
    } finally {
      refuse = false;
    }
  });
});

/** The same stages, in front of the REST route, the transcoded gRPC service and the gRPC port. */
describe('the request pipeline on REST and gRPC surfaces', () => {
  let users: RunningBackend;
  let library: Awaited<ReturnType<typeof startLibraryServer>>;
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateway: TestGateway;
  const usersCalls: string[] = [];
  const seen: string[] = [];
  let refuse = false;

  const probe: StageEntry = {
    name: 'probe',
    event: 'request',
    run(ctx) {
      seen.push(`${ctx.method} ${ctx.path} ${ctx.correlationId}`);
      if (refuse) throw new GatewayError(ErrorCode.UNAUTHENTICATED, 'No credentials.');
    },
  };

  before(async () => {
    users = await startUsersRest({ onRequest: (req) => usersCalls.push(String(req.url)) });
    library = await startLibraryServer();
    project = await writeProject([]);
    await project.write(
      'supergraph.yaml',
      stringify({
        subgraphs: {
          stub: {
            routing_url: 'http://127.0.0.1:9/graphql',
            schema: { sdl: 'type Query { hello: String }' },
          },
        },
        routes: [
          { path_prefix: '/api/users', rewrite_prefix: '/users', backends: [{ url: users.url }] },
        ],
        transcode: {
          library: {
            address: library.address,
            protos: ['transcode/v1/library.proto'],
            include_dirs: [MAPPING_PROTOS],
          },
        },
        grpc_server: {
          port: 0,
          reflection: false,
          services: {
            users: {
              protos: ['demo/users/v1/users.proto'],
              include_dirs: [join(import.meta.dirname, '../../protos')],
              base_url: users.url,
            },
          },
        },
      }),
    );
    gateway = await startTestGateway({
      configFile: project.configFile,
      stages: [...STAGES, probe],
    });
  });

  after(async () => {
    await gateway.close();
    await users.close();
    await library.close();
    await project.remove();
  });

  test('every surface runs the stages with the correlation id set before them', async () => {
    seen.length = 0;
    await get(`${gateway.origin}/api/users/1`, { 'x-correlation-id': 'route-1' });
    await get(`${gateway.origin}/v1/shelves/1/books/2`, { 'x-correlation-id': 'transcode-1' });
    const metadata = new grpc.Metadata();
    metadata.set('x-correlation-id', 'grpc-1');
    await getUserOverGrpc(gateway.running.grpcAddress as string, metadata);
    assert.deepEqual(seen, [
      'GET /api/users/1 route-1',
      'GET /v1/shelves/1/books/2 transcode-1',
      'POST /demo.users.v1.UserService/GetUser grpc-1',
    ]);
  });

  test('a refusing stage stops each surface before its backend, with its code in that surface’s form', async () => {
    refuse = true;
    try {
      const before = usersCalls.length;
      const routed = await get(`${gateway.origin}/api/users/1`);
      assert.equal(routed.status, 401);
      assert.equal(routed.json.code, 16);
      assert.equal(routed.json.details[0].reason, 'UNAUTHENTICATED');
      const transcoded = await get(`${gateway.origin}/v1/shelves/1/books/2`);
      assert.equal(transcoded.status, 401);
      assert.equal(transcoded.json.message, 'No credentials.');
      const error: any = await getUserOverGrpc(gateway.running.grpcAddress as string).catch(
        (e: unknown) => e,
      );
      assert.equal(error.code, grpc.status.UNAUTHENTICATED);
      assert.equal(error.details, 'No credentials.');
      assert.equal(usersCalls.length, before);
    } finally {
      refuse = false;
    }
  });
});

function getUserOverGrpc(address: string, metadata = new grpc.Metadata()): Promise<unknown> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  // GetUserRequest { id = 1 } is the bytes 0x0a 0x01 '1'; the reply is not read.
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      '/demo.users.v1.UserService/GetUser',
      (value: Buffer) => value,
      (bytes: Buffer) => bytes,
      Buffer.from([0x0a, 0x01, 0x31]),
      metadata,
      (error, reply) => {
        client.close();
        if (error) reject(error);
        else resolve(reply);
      },
    ),
  );
}
