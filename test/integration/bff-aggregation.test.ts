import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startDemoBackends, type DemoBackends } from '../../demo/backends.ts';
import { ORDERS, PRODUCTS, USERS } from '../../demo/data.ts';
import type { ReloadOutcome } from '../../src/runtime/snapshot-manager.ts';
import { post, startTestGateway, type TestGateway } from '../helpers/env.ts';
import { asCaller, withTestIdentity } from '../helpers/identity.ts';

const ROOT = join(import.meta.dirname, '../..');
const CONFIG = join(ROOT, 'supergraph.yaml');

const HOME = `{ home {
  viewer { id name }
  recentOrders { id status items { productId quantity productName } }
  recommended { id name }
} }`;

/** What the seed data says user 1's home holds: their three newest orders, and the rest. */
function expectedHome(userId: string) {
  const orders = ORDERS.filter((o) => o.userId === userId).sort((a, b) =>
    b.createdAt.localeCompare(a.createdAt),
  );
  const ordered = new Set(orders.flatMap((o) => o.items.map((i) => i.productId)));
  const user = USERS.find((u) => u.id === userId)!;
  return {
    viewer: { id: user.id, name: user.name },
    recentOrders: orders.slice(0, 3).map((o) => ({
      id: o.id,
      status: o.status,
      items: o.items.map((i) => ({
        productId: i.productId,
        quantity: i.quantity,
        productName: PRODUCTS.find((p) => p.id === i.productId)!.name,
      })),
    })),
    recommended: PRODUCTS.filter((p) => !ordered.has(p.id))
      .slice(0, 3)
      .map((p) => ({ id: p.id, name: p.name })),
  };
}

/** The demo backends counting what reaches them, and the repository's gateway over them. */
async function startDemo(configFile = CONFIG) {
  const calls = { users: 0, products: 0, orders: [] as string[] };
  const backends = await startDemoBackends(
    { users: 0, orders: 0, products: 0 },
    {
      onUsersRequest: () => calls.users++,
      onProductsRequest: () => calls.products++,
      onOrdersCall: (_md, method) => calls.orders.push(method),
    },
  );
  const gateway = await startTestGateway({
    configFile,
    env: { ...backends.env, GRPC_PORT: '0' },
    stages: withTestIdentity(),
  });
  const reset = () => {
    calls.users = 0;
    calls.products = 0;
    calls.orders.length = 0;
  };
  return { backends, gateway, calls, reset };
}

const ada = asCaller({ subject: '1' });

describe('the mobile home aggregation over the demo backends', () => {
  let demo: Awaited<ReturnType<typeof startDemo>>;
  before(async () => {
    demo = await startDemo();
  });
  after(async () => {
    await demo.gateway.close();
    await demo.backends.close();
  });

  test('home returns the viewer, their three newest orders with product names, and recommendations in one round trip', async () => {
    const res = await post(demo.gateway.url, { query: HOME }, ada);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { data: { home: expectedHome('1') } });
  });

  test('the product names of every order item come from one products call', async () => {
    // Ada's three newest orders hold several items between them; their names are asked in
    // one tick, so the loader sends them in one batch: one products call, one orders call.
    demo.reset();
    const res = await post(
      demo.gateway.url,
      { query: '{ home { recentOrders { items { productName } } } }' },
      ada,
    );
    const items = res.json.data.home.recentOrders.flatMap((o: any) => o.items);
    assert.ok(items.length >= 3, `expected several items, got ${items.length}`);
    assert.equal(demo.calls.products, 1);
    assert.deepEqual(demo.calls.orders, ['ListOrdersByUser']);
  });

  test('the whole home costs one call per backend and section, the orders fetched once for two sections', async () => {
    demo.reset();
    await post(demo.gateway.url, { query: HOME }, ada);
    // users: the viewer. orders: one ListOrdersByUser, shared by recentOrders and recommended
    // through the request's loader. products: the names' batch and the catalog.
    assert.equal(demo.calls.users, 1);
    assert.deepEqual(demo.calls.orders, ['ListOrdersByUser']);
    assert.equal(demo.calls.products, 2);
  });

  test('loaders belong to one request: the next request fetches again', async () => {
    demo.reset();
    const query = '{ home { recentOrders { id } } }';
    await post(demo.gateway.url, { query }, ada);
    await post(demo.gateway.url, { query }, ada);
    assert.deepEqual(demo.calls.orders, ['ListOrdersByUser', 'ListOrdersByUser']);
    // And another caller's request never sees the first one's orders.
    const alan = await post(demo.gateway.url, { query }, asCaller({ subject: '2' }));
    assert.deepEqual(
      alan.json.data.home.recentOrders.map((o: any) => o.id),
      expectedHome('2').recentOrders.map((o) => o.id),
    );
  });

  test("sub-operations run as the caller: a field needing a scope is served or denied per the caller's token", async () => {
    const query = '{ home { viewer { id email } } }';
    const scoped = await post(
      demo.gateway.url,
      { query },
      asCaller({ subject: '1', scopes: ['users:email'] }),
    );
    assert.deepEqual(scoped.json, {
      data: { home: { viewer: { id: '1', email: 'ada@example.com' } } },
    });
    const unscoped = await post(demo.gateway.url, { query }, ada);
    assert.equal(unscoped.status, 200);
    assert.deepEqual(unscoped.json.data, { home: { viewer: { id: '1', email: null } } });
    assert.deepEqual(
      unscoped.json.errors.map((e: any) => [e.path, e.extensions.code]),
      [[['home', 'viewer', 'email'], 'FORBIDDEN']],
    );
  });

  test('an anonymous caller gets the recommendations, and UNAUTHENTICATED at the personal sections', async () => {
    const res = await post(demo.gateway.url, { query: HOME });
    assert.equal(res.status, 200);
    assert.equal(res.json.data.home.viewer, null);
    assert.equal(res.json.data.home.recentOrders, null);
    assert.deepEqual(
      res.json.data.home.recommended,
      PRODUCTS.slice(0, 3).map((p) => ({ id: p.id, name: p.name })),
    );
    assert.deepEqual(res.json.errors.map((e: any) => [e.path, e.extensions.code]).sort(), [
      [['home', 'recentOrders'], 'UNAUTHENTICATED'],
      [['home', 'viewer'], 'UNAUTHENTICATED'],
    ]);
  });
});
