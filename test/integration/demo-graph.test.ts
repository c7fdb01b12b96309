import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { adapterRoutingUrl } from '../../src/composition/from-config.ts';
import { configSource, createLoadDeps } from '../../src/runtime/sources.ts';
import { serveSubgraph, type ServedSubgraph } from '../../src/server/serve-subgraph.ts';
import { startDemoBackends, type DemoBackends } from '../../demo/backends.ts';
import { DEMO_ANSWER, DEMO_QUERY } from '../fixtures/demo.ts';
import { startBareGateway } from '../helpers/bare-gateway.ts';
import { get, post, startTestGateway, type TestGateway } from '../helpers/env.ts';

const CONFIG = join(import.meta.dirname, '../../supergraph.yaml');

/** The repository's own supergraph.yaml over the real demo backends, ours against a bare gateway. */
describe('the demo graph', () => {
  let backends: DemoBackends;
  let ours: TestGateway;
  let bare: Awaited<ReturnType<typeof startBareGateway>>;
  const standalone: ServedSubgraph[] = [];
  const deps = createLoadDeps();
  const correlationIds: string[] = [];

  before(async () => {
    backends = await startDemoBackends(
      { users: 0, orders: 0, products: 0 },
      {
        onUsersRequest: (req) => correlationIds.push(`users:${req.headers['x-correlation-id']}`),
        onOrdersCall: (md) => correlationIds.push(`orders:${md.get('x-correlation-id')[0]}`),
      },
    );
    ours = await startTestGateway({ configFile: CONFIG, env: { ...backends.env, GRPC_PORT: '0' } });
    // A bare gateway has no in-process adapters: it reaches the users REST adapter served
    // standalone, as another router would (`gateway serve-subgraph users`).
    const snapshot = await configSource(CONFIG, backends.env).load(deps);
    let sdl = snapshot.supergraph.sdl;
    for (const name of snapshot.adapters.keys()) {
      const served = await serveSubgraph(snapshot, name, { port: 0, host: '127.0.0.1' });
      standalone.push(served);
      sdl = sdl.replace(adapterRoutingUrl(name), served.url);
    }
    bare = await startBareGateway(sdl);
  });

  after(async () => {
    await ours.close();
    await bare.close();
    await Promise.all(standalone.map((s) => s.close()));
    await deps.close();
    await backends.close();
  });

  test('answers the demo contract query with the seeded data', async () => {
    const res = await post(ours.url, { query: DEMO_QUERY });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, DEMO_ANSWER);
  });

  const queries: Record<string, string> = {
    'the demo query': DEMO_QUERY,
    'an order with its user and products':
      '{ getOrder(id: "3") { id status createdAt user { id name email } items { quantity product { id name priceCents } } } }',
    'a list of users with orders': '{ users(ids: ["2", "4", "9"]) { name orders { id status } } }',
    'an unknown order': '{ getOrder(id: "nope") { id } }',
    'a product list': '{ products { id name priceCents } }',
  };
  for (const [name, query] of Object.entries(queries)) {
    test(`answers like a bare Apollo Gateway for ${name}`, async () => {
      const [mine, theirs] = await Promise.all([
        post(ours.url, { query }),
        post(bare.url, { query }),
      ]);
      assert.deepEqual(mine.json.data, theirs.json.data);
      assert.equal(Boolean(mine.json.errors), Boolean(theirs.json.errors));
    });
  }

  test('the correlation id reaches the REST and gRPC backends through the subgraphs', async () => {
    correlationIds.length = 0;
    await post(ours.url, { query: DEMO_QUERY }, { 'x-correlation-id': 'demo-7' });
    assert.ok(correlationIds.includes('users:demo-7'), correlationIds.join());
    assert.ok(correlationIds.includes('orders:demo-7'), correlationIds.join());
  });

  test('/readyz reports the orders gRPC backend serving through grpc.health.v1', async () => {
    const ready = await get(`${ours.origin}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json.backends, { orders: 'SERVING' });
  });

  test('a mutation creates a user through the REST backend', async () => {
    const res = await post(ours.url, {
      query:
        'mutation { createUser(name: "Katherine Johnson", email: "kj@example.com") { id name } }',
    });
    assert.deepEqual(res.json, { data: { createUser: { id: '6', name: 'Katherine Johnson' } } });
  });
});
