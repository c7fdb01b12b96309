import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import * as grpc from '@grpc/grpc-js';
import { stringify } from 'yaml';
import { startUsersRest, type RunningBackend } from '../../demo/backends/users-rest.ts';
import { STAGES, type StageEntry, type StageEvent } from '../../src/gateway/pipeline.ts';
import type { Exchange, StageRun } from '../../src/kernel/channels.ts';
import type { RequestContext, Surface } from '../../src/kernel/context.ts';
import { ErrorCode, GatewayError } from '../../src/kernel/errors.ts';
import { accounts } from '../fixtures/graphs/shop.ts';
import { startLibraryServer } from '../fixtures/protos/library-server.ts';
import {
  get,
  post,
  startGatewayOver,
  startTestGateway,
  writeProject,
  type GatewayOver,
  type TestGateway,
} from '../helpers/env.ts';
import { everySurfaceConfig } from '../helpers/surfaces.ts';

/**
 * The placement test (after Apollo Router's): the real stage list with a probe between every
 * pair of stages, before the first and after the last, of every event. It reads the order the
 * stages actually ran in from `gateway:stage` (so a new stage in STAGES is checked without
 * touching this file), and makes each probe refuse in turn: the request must end with the
 * probe's code in its surface's form, no later stage may run, and no backend call may start.
 */

/** What a probe saw: which probe, and what the stages before it had set. */
interface Sighting {
  probe: string;
  correlationId: string;
  cost: number | undefined;
}

function withProbes(stages: readonly StageEntry[], refuseAt: { probe?: string }, seen: Sighting[]) {
  const probe = (event: StageEvent, index: number): StageEntry => {
    const name = `probe.${event}.${index}`;
    return {
      name,
      event,
      run(ctx: RequestContext) {
        seen.push({ probe: name, correlationId: ctx.correlationId, cost: ctx.facts.cost });
        if (refuseAt.probe === name)
          throw new GatewayError(ErrorCode.FORBIDDEN, `Refused at ${name}.`);
      },
    };
  };
  const list: StageEntry[] = [];
  const counts: Record<StageEvent, number> = { request: 0, operation: 0 };
  for (const stage of stages) {
    list.push(probe(stage.event, counts[stage.event]++), stage);
  }
  for (const event of ['request', 'operation'] as const) list.push(probe(event, counts[event]++));
  return list;
}

/** The stages a surface runs, probes included, in the order they must run. */
function expectedOrder(list: readonly StageEntry[], surface: Surface): string[] {
  const applies = (s: StageEntry) => s.surfaces?.includes(surface) ?? true;
  const request = list.filter((s) => s.event === 'request' && applies(s)).map((s) => s.name);
  const operation = list.filter((s) => s.event === 'operation' && applies(s)).map((s) => s.name);
  return surface === 'graphql' ? [...request, ...operation] : request;
}

/** Stage runs and backend calls, by correlation id, as the channels report them. */
function watch() {
  const stages = new Map<string, string[]>();
  const calls = new Map<string, number>();
  const onStage = (message: unknown) => {
    const { ctx, stage } = message as StageRun;
    // The correlation id is set by the first real stage: earlier probes run under ''.
    const id = ctx.headers['x-correlation-id'] as string;
    stages.set(id, [...(stages.get(id) ?? []), stage]);
  };
  const onCall = (message: unknown) => {
    const id = (message as Exchange).ctx?.headers['x-correlation-id'] as string | undefined;
    if (id) calls.set(id, (calls.get(id) ?? 0) + 1);
  };
  diagnostics.channel('tracing:gateway:stage:start').subscribe(onStage);
  diagnostics.channel('tracing:gateway:call:start').subscribe(onCall);
  return {
    stages,
    calls,
    close() {
      diagnostics.channel('tracing:gateway:stage:start').unsubscribe(onStage);
      diagnostics.channel('tracing:gateway:call:start').unsubscribe(onCall);
    },
  };
}

const probesOf = (list: readonly StageEntry[], surface: Surface) =>
  expectedOrder(list, surface).filter((name) => name.startsWith('probe.'));

describe('the request pipeline on the GraphQL surface', () => {
  let env: GatewayOver;
  const refuseAt: { probe?: string } = {};
  const seen: Sighting[] = [];
  const list = withProbes(STAGES, refuseAt, seen);
  const watched = watch();

  before(async () => {
    env = await startGatewayOver([accounts], { stages: list });
  });

  after(async () => {
    watched.close();
    await env.close();
  });

  test('runs every stage, probes between them, in the written order', async () => {
    const res = await post(
      env.gateway.url,
      { query: 'query Me { me { id } }' },
      { 'x-correlation-id': 'gql-order' },
    );
    assert.equal(res.status, 200);
    assert.deepEqual(watched.stages.get('gql-order'), expectedOrder(list, 'graphql'));
    assert.equal(watched.calls.get('gql-order'), 1);
  });

  test('each stage sees what the stages before it set', () => {
    const byProbe = new Map(seen.map((s) => [s.probe, s]));
    // Before correlate, no id; after it, the client's; estimateCost has weighed `me { id }` as 1.
    assert.equal(byProbe.get('probe.request.0')?.correlationId, '');
    assert.equal(byProbe.get('probe.request.1')?.correlationId, 'gql-order');
    const costAt = STAGES.filter((s) => s.event === 'operation').findIndex(
      (s) => s.name === 'estimateCost',
    );
    assert.equal(byProbe.get(`probe.operation.${costAt}`)?.cost, undefined);
    assert.equal(byProbe.get(`probe.operation.${costAt + 1}`)?.cost, 1);
  });

  for (const probe of probesOf(withProbes(STAGES, {}, []), 'graphql')) {
    test(`a refusal at ${probe} ends the request there, before any subgraph call`, async () => {
      refuseAt.probe = probe;
      try {
        const id = `gql-${probe}`;
        const res = await post(
          env.gateway.url,
          { query: '{ me { id } }' },
          { 'x-correlation-id': id },
        );
        assert.equal(res.status, 403);
        assert.equal(res.json.data, undefined);
        assert.equal(res.json.errors[0].extensions.code, 'FORBIDDEN');
        assert.equal(res.json.errors[0].message, `Refused at ${probe}.`);
        const order = expectedOrder(list, 'graphql');
        assert.deepEqual(watched.stages.get(id), order.slice(0, order.indexOf(probe) + 1));
        assert.equal(watched.calls.get(id), undefined);
      } finally {
        delete refuseAt.probe;
      }
    });
  }
});

describe('the request pipeline on REST routes, transcoded methods and the gRPC port', () => {
  let users: RunningBackend;
  let library: Awaited<ReturnType<typeof startLibraryServer>>;
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateway: TestGateway;
  const usersCalls: string[] = [];
  const refuseAt: { probe?: string } = {};
  const seen: Sighting[] = [];
  const list = withProbes(STAGES, refuseAt, seen);
  const watched = watch();

  before(async () => {
    users = await startUsersRest({ onRequest: (req) => usersCalls.push(String(req.url)) });
    library = await startLibraryServer();
    project = await writeProject([]);
    await project.write(
      'supergraph.yaml',
      stringify(everySurfaceConfig(users.url, library.address)),
    );
    gateway = await startTestGateway({ configFile: project.configFile, stages: list });
  });

  after(async () => {
    watched.close();
    await gateway.close();
    await users.close();
    await library.close();
    await project.remove();
  });

  /** One request on each surface, with the correlation id `id`. */
  const surfaces = {
    route: (id: string) => get(`${gateway.origin}/api/users/1`, { 'x-correlation-id': id }),
    transcode: (id: string) =>
      get(`${gateway.origin}/v1/shelves/1/books/2`, { 'x-correlation-id': id }),
    grpc: (id: string) => {
      const metadata = new grpc.Metadata();
      metadata.set('x-correlation-id', id);
      return getUserOverGrpc(gateway.running.grpcAddress as string, metadata).catch((e) => e);
    },
  };

  for (const [surface, send] of Object.entries(surfaces)) {
    const kind: Surface = surface === 'grpc' ? 'grpc' : 'rest';
    test(`${surface}: every stage and probe runs in order, then the backend is called`, async () => {
      const id = `${surface}-order`;
      await send(id);
      assert.deepEqual(watched.stages.get(id), expectedOrder(list, kind));
      assert.equal(watched.calls.get(id), 1);
    });

    for (const probe of probesOf(withProbes(STAGES, {}, []), kind)) {
      test(`${surface}: a refusal at ${probe} answers in the surface’s form before the backend`, async () => {
        refuseAt.probe = probe;
        try {
          const id = `${surface}-${probe}`;
          const before = usersCalls.length;
          const answer: any = await send(id);
          if (surface === 'grpc') {
            assert.equal(answer.code, grpc.status.PERMISSION_DENIED);
            assert.equal(answer.details, `Refused at ${probe}.`);
          } else {
            assert.equal(answer.status, 403);
            assert.equal(answer.json.code, 7);
            assert.equal(answer.json.details[0].reason, 'FORBIDDEN');
          }
          const order = expectedOrder(list, kind);
          assert.deepEqual(watched.stages.get(id), order.slice(0, order.indexOf(probe) + 1));
          assert.equal(watched.calls.get(id), undefined);
          assert.equal(usersCalls.length, before);
        } finally {
          delete refuseAt.probe;
        }
      });
    }
  }
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
