import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { stringify } from 'yaml';
import { startUsersRest, type RunningBackend } from '../../demo/backends/users-rest.ts';
import { loadUserService } from '../../demo/users-grpc.ts';
import { checkHealth } from '../../src/adapters/grpc/health.ts';
import { startTestGateway, writeProject, type TestGateway } from '../helpers/env.ts';

const PROTOS = join(import.meta.dirname, '../../protos');
const STUB_SUBGRAPH = {
  stub: {
    routing_url: 'http://127.0.0.1:9/graphql',
    schema: { sdl: 'type Query { hello: String }' },
  },
};

/** The users REST service on the gateway's gRPC port (port 0). */
function frontConfig(baseUrl: string, extra: object = {}): string {
  return stringify({
    subgraphs: STUB_SUBGRAPH,
    grpc_server: {
      port: 0,
      services: {
        users: {
          protos: ['demo/users/v1/users.proto'],
          include_dirs: [PROTOS],
          base_url: baseUrl,
          ...extra,
        },
      },
    },
  });
}

type Unary = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, reply: any) => void,
) => grpc.ClientUnaryCall;

function usersClient(address: string) {
  const client = new (loadUserService())(address, grpc.credentials.createInsecure()) as any;
  const call = (method: string, request: object, metadata = new grpc.Metadata()) =>
    new Promise<{ reply?: any; error?: grpc.ServiceError; headers?: grpc.Metadata }>((resolve) => {
      let headers: grpc.Metadata | undefined;
      const pending = (client[method] as Unary).call(
        client,
        request,
        metadata,
        { deadline: Date.now() + 5_000 },
        (error, reply) => resolve(error ? { error, headers } : { reply, headers }),
      );
      pending.on('metadata', (md) => (headers = md));
    });
  return { call, close: () => client.close() };
}

/** A REST backend served to gRPC clients on the gateway's gRPC port, against the real users service. */
describe('gRPC to REST', () => {
  let users: RunningBackend;
  const requests: { method?: string; url?: string; headers: Record<string, unknown> }[] = [];
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateway: TestGateway;
  let client: ReturnType<typeof usersClient>;

  before(async () => {
    users = await startUsersRest({
      onRequest: (req) => requests.push({ method: req.method, url: req.url, headers: req.headers }),
    });
    project = await writeProject([]);
    await project.write(
      'supergraph.yaml',
      frontConfig(users.url, {
        headers: { 'x-api-key': 'backend-secret' },
        forward_metadata: ['x-team'],
      }),
    );
    gateway = await startTestGateway({ configFile: project.configFile });
    client = usersClient(gateway.running.grpcAddress as string);
  });

  after(async () => {
    client.close();
    await gateway.close();
    await users.close();
    await project.remove();
  });

  test('a call becomes the annotated GET with the path filled from the request', async () => {
    const { reply } = await client.call('GetUser', { id: '1' });
    assert.deepEqual(reply, { id: '1', name: 'Ada Lovelace', email: 'ada@example.com' });
    assert.equal(requests.at(-1)?.url, '/users/1');
    assert.equal(requests.at(-1)?.method, 'GET');
  });

  test('repeated fields become repeated query parameters, and response_body fills the reply field', async () => {
    const { reply } = await client.call('BatchGetUsers', { ids: ['2', '3', '99'] });
    assert.deepEqual(
      reply.users.map((u: any) => u.id),
      ['2', '3'],
    );
    assert.equal(requests.at(-1)?.url, '/users?ids=2&ids=3&ids=99');
  });

  test('body "*" sends the message as JSON', async () => {
    const { reply } = await client.call('CreateUser', {
      name: 'Ada Byron',
      email: 'byron@example.com',
    });
    assert.equal(reply.name, 'Ada Byron');
    assert.match(reply.id, /^\d+$/);
    assert.equal(requests.at(-1)?.method, 'POST');
    assert.equal(requests.at(-1)?.headers['content-type'], 'application/json');
  });

  test('configured headers, allowlisted metadata and the correlation id reach the backend; other metadata does not', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-team', 'blue');
    metadata.set('x-user-id', 'admin');
    metadata.set('x-correlation-id', 'front-corr-1');
    const { headers } = await client.call('GetUser', { id: '1' }, metadata);
    const seen = requests.at(-1)?.headers ?? {};
    assert.equal(seen['x-api-key'], 'backend-secret');
    assert.equal(seen['x-team'], 'blue');
    assert.equal(seen['x-user-id'], undefined);
    assert.equal(seen['x-correlation-id'], 'front-corr-1');
    assert.equal(headers?.get('x-correlation-id')[0], 'front-corr-1');
  });

  // The backend's HTTP status as the gRPC status the caller gets.
  const STATUSES: [string, object, grpc.status, RegExp][] = [
    ['GetUser', { id: '404' }, grpc.status.NOT_FOUND, /user 404 not found/],
    ['CreateUser', { name: '', email: 'nope' }, grpc.status.INVALID_ARGUMENT, /valid email/],
  ];
  for (const [method, request, code, details] of STATUSES) {
    test(`${method} answered with HTTP ${code === grpc.status.NOT_FOUND ? 404 : 400} fails with ${grpc.status[code]}`, async () => {
      const { error } = await client.call(method, request);
      assert.equal(error?.code, code);
      assert.match(error?.details ?? '', details);
    });
  }

  test('a call the backend refuses as not found is logged at info with its code and correlation id', async () => {
    const metadata = new grpc.Metadata();
    metadata.set('x-correlation-id', 'front-404');
    await client.call('GetUser', { id: '404' }, metadata);
    const logged = gateway.logs.lines.filter((line) => line.correlationId === 'front-404');
    const failed = logged.filter((line) => line.msg === 'gRPC call failed');
    assert.equal(failed.length, 1, JSON.stringify(logged));
    assert.equal(failed[0]!.level, 30);
    assert.equal(failed[0]!.code, 'NOT_FOUND');
  });

  test('grpc.health.v1 reports the port and each service as SERVING', async () => {
    const channel = new grpc.Client(
      gateway.running.grpcAddress as string,
      grpc.credentials.createInsecure(),
    );
    try {
      assert.equal(await checkHealth(channel, '', 1_000), 'SERVING');
      assert.equal(await checkHealth(channel, 'demo.users.v1.UserService', 1_000), 'SERVING');
      assert.equal(await checkHealth(channel, 'nope.Service', 1_000), 'SERVICE_UNKNOWN');
    } finally {
      channel.close();
    }
  });

  test('server reflection lists the services', async () => {
    const require = createRequire(import.meta.url);
    const protoDir = join(dirname(require.resolve('@grpc/reflection')), '../proto');
    const definition = protoLoader.loadSync('grpc/reflection/v1/reflection.proto', {
      includeDirs: [protoDir],
    });
    const pkg = grpc.loadPackageDefinition(definition) as any;
    const reflection = new pkg.grpc.reflection.v1.ServerReflection(
      gateway.running.grpcAddress,
      grpc.credentials.createInsecure(),
    );
    const stream = reflection.ServerReflectionInfo();
    stream.write({ listServices: '' });
    const [answer] = (await new Promise((resolve, reject) => {
      stream.on('data', (data: any) => resolve([data]));
      stream.on('error', reject);
    })) as any[];
    stream.end();
    reflection.close();
    const names = answer.listServicesResponse.service.map((s: any) => s.name);
    assert.ok(names.includes('demo.users.v1.UserService'), names.join(', '));
    assert.ok(names.includes('grpc.health.v1.Health'), names.join(', '));
  });
});

describe('gRPC to REST with the backend down', () => {
  test('a call fails with UNAVAILABLE and the port keeps answering', async (t) => {
    const users = await startUsersRest();
    const url = users.url;
    await users.close();
    const project = await writeProject([]);
    await project.write('supergraph.yaml', frontConfig(url));
    const gateway = await startTestGateway({ configFile: project.configFile });
    const client = usersClient(gateway.running.grpcAddress as string);
    t.after(async () => {
      client.close();
      await gateway.close();
      await project.remove();
    });
    const first = await client.call('GetUser', { id: '1' });
    const second = await client.call('GetUser', { id: '2' });
    assert.equal(first.error?.code, grpc.status.UNAVAILABLE);
    assert.equal(second.error?.code, grpc.status.UNAVAILABLE);
    assert.doesNotMatch(first.error?.details ?? '', /127\.0\.0\.1/);
    const failed = gateway.logs.lines.filter((line) => line.msg === 'gRPC call failed');
    assert.deepEqual(
      failed.map((line) => [line.level, line.code]),
      [
        [50, 'UPSTREAM_UNAVAILABLE'],
        [50, 'UPSTREAM_UNAVAILABLE'],
      ],
    );
  });
});
