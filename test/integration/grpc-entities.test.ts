import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { PROTOS_DIR, startOrdersGrpc } from '../../demo/backends/orders-grpc.ts';
import type { RunningBackend } from '../../demo/backends/users-rest.ts';
import {
  post,
  startSubgraphs,
  startTestGateway,
  writeProject,
  type TestGateway,
} from '../helpers/env.ts';

const OVERLAY = join(import.meta.dirname, '../../schemas/orders.graphql');

/** A GraphQL subgraph that points at 20 orders, 5 of them twice, and owns users and products. */
const REFERRER = {
  name: 'referrer',
  sdl: `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Order @key(fields: "id", resolvable: false) { id: String! }
type User @key(fields: "id") { id: ID! name: String! }
type Product @key(fields: "id") { id: ID! name: String! }
type Query { featuredOrders: [Order!]! }`,
  resolvers: {
    Query: {
      featuredOrders: () => [...'12345678', ...'12345678', ...'1234'].map((n) => ({ id: n })),
    },
    User: { __resolveReference: (ref: { id: string }) => ({ id: ref.id, name: `User ${ref.id}` }) },
    Product: {
      __resolveReference: (ref: { id: string }) => ({ id: ref.id, name: `Product ${ref.id}` }),
    },
  },
};

describe('gRPC entities through the overlay', () => {
  let orders: RunningBackend;
  let referrer: Awaited<ReturnType<typeof startSubgraphs>>;
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateway: TestGateway;
  const calls: { method: string; request: any }[] = [];

  before(async () => {
    orders = await startOrdersGrpc({
      onCall: (_md, method, request) => calls.push({ method, request }),
    });
    referrer = await startSubgraphs([REFERRER]);
    project = await writeProject(referrer.servers);
    await copyFile(OVERLAY, join(project.dir, 'orders.graphql'));
    await project.write(
      'supergraph.yaml',
      stringify({
        subgraphs: {
          referrer: {
            routing_url: referrer.servers[0]!.url,
            schema: { file: './referrer.graphql' },
          },
          orders: {
            schema: { file: './orders.graphql' },
            source: {
              kind: 'grpc',
              address: orders.url,
              protos: ['demo/orders/v1/orders.proto'],
              include_dirs: [PROTOS_DIR],
            },
          },
        },
      }),
    );
    gateway = await startTestGateway({ configFile: project.configFile });
  });

  after(async () => {
    await gateway.close();
    await referrer.close();
    await orders.close();
    await project.remove();
  });

  test('20 order references, 8 distinct, become one BatchGetOrders call with each id once', async () => {
    calls.length = 0;
    const res = await post(gateway.url, {
      query: '{ featuredOrders { id status user { name } } }',
    });
    assert.equal(res.json.data.featuredOrders.length, 20);
    assert.deepEqual(res.json.data.featuredOrders[0], {
      id: '1',
      status: 'DELIVERED',
      user: { name: 'User 1' },
    });
    assert.deepEqual(
      calls.map((c) => c.method),
      ['BatchGetOrders'],
    );
    assert.deepEqual([...calls[0]!.request.ids].sort(), ['1', '2', '3', '4', '5', '6', '7', '8']);
  });

  test('a field of an entity from another subgraph calls a method with the parent key', async () => {
    calls.length = 0;
    const res = await post(gateway.url, {
      query: '{ getOrder(id: "3") { user { id orders { id } } items { product { name } } } }',
    });
    assert.equal(res.json.errors, undefined, JSON.stringify(res.json.errors));
    assert.deepEqual(res.json.data.getOrder.user.orders, [{ id: '8' }, { id: '3' }]);
    assert.deepEqual(res.json.data.getOrder.items, [
      { product: { name: 'Product p4' } },
      { product: { name: 'Product p5' } },
    ]);
    assert.deepEqual(
      calls.map((c) => c.method),
      ['GetOrder', 'ListOrdersByUser'],
    );
    assert.equal(calls[1]!.request.userId, '2');
  });
});
