import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { request } from 'undici';
import { loadOrderService, startOrdersGrpc } from '../../demo/backends/orders-grpc.ts';
import { startUsersRest, type RunningBackend } from '../../demo/backends/users-rest.ts';

describe('the demo users REST service', () => {
  let users: RunningBackend;
  before(async () => {
    users = await startUsersRest();
  });
  after(() => users.close());

  const call = async (
    path: string,
    init: { method?: 'GET' | 'POST' | 'DELETE'; body?: string; type?: string } = {},
  ) => {
    const res = await request(`${users.url}${path}`, {
      method: init.method ?? 'GET',
      body: init.body,
      headers: init.type ? { 'content-type': init.type } : {},
    });
    return { status: res.statusCode, body: (await res.body.json()) as any };
  };

  const cases: [string, Parameters<typeof call>, number, unknown][] = [
    [
      'GET /users/1 answers the user',
      ['/users/1'],
      200,
      { id: '1', name: 'Ada Lovelace', email: 'ada@example.com' },
    ],
    ['GET /users/99 answers 404', ['/users/99'], 404, { error: 'user 99 not found' }],
    [
      'GET /users?ids= answers the users that exist, in order',
      ['/users?ids=3,99,1'],
      200,
      [
        { id: '3', name: 'Grace Hopper', email: 'grace@example.com' },
        { id: '1', name: 'Ada Lovelace', email: 'ada@example.com' },
      ],
    ],
    [
      'GET /users without ids answers 400',
      ['/users'],
      400,
      { error: 'query parameter ids is required, e.g. ?ids=1,2' },
    ],
    [
      'POST /users with bad JSON answers 400',
      ['/users', { method: 'POST', body: '{', type: 'application/json' }],
      400,
      { error: 'body is not valid JSON' },
    ],
    [
      'POST /users as text answers 415',
      ['/users', { method: 'POST', body: 'x', type: 'text/plain' }],
      415,
      { error: 'send application/json' },
    ],
    ['DELETE /users/1 answers 405', ['/users/1', { method: 'DELETE' }], 405, { error: 'use GET' }],
    ['an unknown path answers 404', ['/nope'], 404, { error: 'no route for /nope' }],
  ];
  for (const [name, args, status, body] of cases) {
    test(name, async () => {
      assert.deepEqual(await call(...args), { status, body });
    });
  }

  test('POST /users creates a user that GET then finds', async () => {
    const created = await call('/users', {
      method: 'POST',
      body: '{"name":"Radia Perlman","email":"radia@example.com"}',
      type: 'application/json',
    });
    assert.equal(created.status, 201);
    assert.deepEqual(await call(`/users/${created.body.id}`), { status: 200, body: created.body });
  });
});

describe('the demo orders gRPC service', () => {
  let orders: RunningBackend;
  let client: grpc.Client & Record<string, any>;
  before(async () => {
    orders = await startOrdersGrpc();
    const Service = loadOrderService();
    client = new Service(orders.url, grpc.credentials.createInsecure()) as any;
  });
  after(async () => {
    client.close();
    await orders.close();
  });

  const call = (method: string, req: unknown) =>
    new Promise<any>((resolve, reject) =>
      client[method](req, (e: unknown, r: unknown) => (e ? reject(e) : resolve(r))),
    );

  test('GetOrder answers the order with its items and timestamp', async () => {
    const order = await call('GetOrder', { id: '1' });
    assert.equal(order.status, 'ORDER_STATUS_DELIVERED');
    assert.deepEqual(order.items, [
      { productId: 'p1', quantity: 1 },
      { productId: 'p2', quantity: 2 },
    ]);
    assert.equal(
      new Date(Number(order.createdAt.seconds) * 1000).toISOString(),
      '2026-09-02T10:15:00.000Z',
    );
  });

  test('GetOrder of an unknown id fails with NOT_FOUND', async () => {
    await assert.rejects(call('GetOrder', { id: 'nope' }), { code: grpc.status.NOT_FOUND });
  });

  test('ListOrdersByUser answers newest first', async () => {
    const { orders: list } = await call('ListOrdersByUser', { userId: '1' });
    assert.deepEqual(
      list.map((o: { id: string }) => o.id),
      ['5', '2', '1'],
    );
  });

  test('BatchGetOrders leaves unknown ids out', async () => {
    const { orders: list } = await call('BatchGetOrders', { ids: ['3', 'zz', '1'] });
    assert.deepEqual(
      list.map((o: { id: string }) => o.id),
      ['3', '1'],
    );
  });

  test('CreateOrder stores a pending order and refuses an empty one', async () => {
    const created = await call('CreateOrder', {
      userId: '2',
      items: [{ productId: 'p2', quantity: 3 }],
    });
    assert.equal(created.status, 'ORDER_STATUS_PENDING');
    assert.equal((await call('GetOrder', { id: created.id })).id, created.id);
    await assert.rejects(call('CreateOrder', { userId: '2', items: [] }), {
      code: grpc.status.INVALID_ARGUMENT,
    });
  });
});
