import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Supergraph } from '@apollo/federation-internals';
import { buildManifest, readDocuments } from '../../src/cli/manifest-build.ts';
import { adapterRoutingUrl } from '../../src/composition/from-config.ts';
import { configSource, createLoadDeps } from '../../src/runtime/sources.ts';
import { serveSubgraph, type ServedSubgraph } from '../../src/server/serve-subgraph.ts';
import { startDemoBackends, type DemoBackends } from '../../demo/backends.ts';
import { DEMO_ANSWER, DEMO_QUERY } from '../fixtures/demo.ts';
import { startBareGateway } from '../helpers/bare-gateway.ts';
import { get, post, startTestGateway, type TestGateway } from '../helpers/env.ts';
import { asCaller, withTestIdentity } from '../helpers/identity.ts';

const CONFIG = join(import.meta.dirname, '../../supergraph.yaml');
const MOBILE_MANIFEST = join(import.meta.dirname, '../../demo/mobile-app/manifest.json');
const MOBILE_OPERATIONS = join(import.meta.dirname, '../../demo/mobile-app/operations');

/** The repository's own supergraph.yaml over the real demo backends, ours against a bare gateway. */
describe('the demo graph', () => {
  let backends: DemoBackends;
  let ours: TestGateway;
  let bare: Awaited<ReturnType<typeof startBareGateway>>;
  const standalone: ServedSubgraph[] = [];
  const deps = createLoadDeps();
  const correlationIds: string[] = [];
  const ordersMethods: string[] = [];

  before(async () => {
    backends = await startDemoBackends(
      { users: 0, orders: 0, products: 0 },
      {
        onUsersRequest: (req) => correlationIds.push(`users:${req.headers['x-correlation-id']}`),
        onOrdersCall: (md, method) => {
          correlationIds.push(`orders:${md.get('x-correlation-id')[0]}`);
          ordersMethods.push(method);
        },
      },
    );
    ours = await startTestGateway({
      configFile: CONFIG,
      env: { ...backends.env, GRPC_PORT: '0' },
      // Callers with an identity until the authenticate stage verifies tokens (issue 18).
      stages: withTestIdentity(),
    });
    // A bare gateway has no in-process adapters: it reaches the users REST adapter served
    // standalone, as another router would (`gateway serve-subgraph users`).
    const snapshot = await configSource(CONFIG, backends.env).load(deps);
    // The SDL Apollo Gateway loads: the bare gateway does not enforce field authorization, so
    // the queries compared below read no guarded field.
    let sdl = snapshot.gatewaySdl;
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
      '{ getOrder(id: "3") { id status createdAt user { id name } items { quantity product { id name priceCents } } } }',
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
    const ready = await get(`${ours.adminOrigin}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(ready.json.backends.orders.health, 'SERVING');
    // Every backend with its instances: the REST and native subgraphs too, and the routes.
    for (const name of ['users', 'orders', 'products'])
      assert.equal(ready.json.backends[name].instances[0].state, 'healthy', name);
  });

  test('User.email needs the scope users:email: without it the rest of the user is served', async () => {
    const query = '{ user(id: "2") { name email } }';
    const anonymous = await post(ours.url, { query });
    assert.equal(anonymous.status, 200);
    assert.deepEqual(anonymous.json.data, { user: { name: 'Alan Turing', email: null } });
    assert.deepEqual(
      anonymous.json.errors.map((e: any) => [e.path, e.extensions.code]),
      [[['user', 'email'], 'UNAUTHENTICATED']],
    );
    const unscoped = await post(ours.url, { query }, asCaller({ scopes: ['orders:read'] }));
    assert.equal(unscoped.json.errors[0].extensions.code, 'FORBIDDEN');
    const scoped = await post(ours.url, { query }, asCaller({ scopes: ['users:email'] }));
    assert.deepEqual(scoped.json, {
      data: { user: { name: 'Alan Turing', email: 'alan@example.com' } },
    });
  });

  test('creating an order needs an authenticated caller; anonymously nothing reaches the backend', async () => {
    const query =
      'mutation { createOrder(userId: "3", items: [{ productId: "p2", quantity: 1 }]) { status user { name } } }';
    ordersMethods.length = 0;
    const anonymous = await post(ours.url, { query });
    assert.deepEqual(anonymous.json.data, { createOrder: null });
    assert.equal(anonymous.json.errors[0].extensions.code, 'UNAUTHENTICATED');
    assert.deepEqual(ordersMethods, []);
    const created = await post(ours.url, { query }, asCaller({ subject: '3' }));
    assert.deepEqual(created.json, {
      data: { createOrder: { status: 'PENDING', user: { name: 'Grace Hopper' } } },
    });
    assert.deepEqual(ordersMethods, ['CreateOrder']);
  });

  test('the demo clients: web serves the whole graph on /graphql, mobile its home by manifest id only', async () => {
    const manifest = JSON.parse(await readFile(MOBILE_MANIFEST, 'utf8')) as {
      operations: { id: string; name: string; body: string }[];
    };
    const home = manifest.operations.find((o) => o.name === 'Home');
    assert.ok(home);
    const byId = await post(
      `${ours.origin}/graphql/mobile`,
      { documentId: home.id },
      asCaller({ subject: '1' }),
    );
    assert.equal(byId.status, 200);
    assert.equal(byId.json.errors, undefined, byId.text);
    assert.equal(byId.json.data.home.viewer.name, 'Ada Lovelace');
    assert.equal(byId.json.data.home.recentOrders.length <= 3, true);
    // Any other document is refused: mobile runs only what its app ships (the listed text
    // itself may be sent, as with Apollo's safelisting).
    const raw = await post(`${ours.origin}/graphql/mobile`, {
      query: '{ home { recommended { name } } }',
    });
    assert.equal(raw.status, 403);
    assert.equal(raw.json.errors[0].extensions.code, 'QUERY_NOT_IN_SAFELIST');
    // web (the default client) is the whole graph: home and everything else, sent as text.
    const web = await post(ours.url, {
      query: '{ home { recommended { name } } products { id } }',
    });
    assert.equal(web.status, 200);
    assert.ok(web.json.data.products.length > 0);
    assert.ok(Array.isArray(web.json.data.home.recommended));
  });

  test("the shipped mobile manifest is what manifest build makes of the app's operations against mobile's contract", async () => {
    const snapshot = await configSource(CONFIG, backends.env).load(deps);
    const mobile = snapshot.clients.byEndpoint.get('/graphql/mobile');
    assert.ok(mobile?.contract, 'mobile has a contract');
    const schema = Supergraph.build(mobile.contract.supergraphSdl).apiSchema().toGraphQLJSSchema();
    // Only the tagged home screen is in mobile's schema.
    assert.deepEqual(Object.keys(schema.getQueryType()?.getFields() ?? {}), ['home']);
    const built = buildManifest(await readDocuments(MOBILE_OPERATIONS), schema);
    assert.ok('manifest' in built, JSON.stringify(built));
    assert.deepEqual(
      built.manifest,
      JSON.parse(await readFile(MOBILE_MANIFEST, 'utf8')),
      'run: npx gateway manifest build demo/mobile-app/operations --client mobile --out demo/mobile-app/manifest.json',
    );
  });

  test('a mutation creates a user through the REST backend', async () => {
    const res = await post(ours.url, {
      query:
        'mutation { createUser(name: "Katherine Johnson", email: "kj@example.com") { id name } }',
    });
    assert.deepEqual(res.json, { data: { createUser: { id: '6', name: 'Katherine Johnson' } } });
  });

  test('the demo limits: budgets on every answer, a query over the cost max refused, a 429 past the burst', async () => {
    // A caller of its own, so the other tests' requests do not share its budget.
    const caller = asCaller({ subject: 'limits-demo', issuer: 'test' });
    const first = await post(ours.url, { query: '{ user(id: "1") { name } }' }, caller);
    assert.equal(first.status, 200);
    assert.equal(
      first.headers['ratelimit-policy'],
      '"burst";q=100;w=10, "points";q=20000;w=60;gateway-unit="cost-points"',
    );
    assert.match(String(first.headers.ratelimit), /^"burst";r=99;t=10, "points";r=\d+;t=60$/);
    // The README's query over the max: two list levels of orders' items' products, twice.
    const expensive = await post(
      ours.url,
      {
        query:
          '{ users(ids: ["1"]) { orders { items { product { name } } } more: orders { items { product { name } } } } }',
      },
      caller,
    );
    assert.equal(expensive.status, 400);
    assert.equal(expensive.json.errors[0].extensions.code, 'COST_ESTIMATED_TOO_EXPENSIVE');
    assert.equal(expensive.json.errors[0].extensions['cost.max'], 5000);
    const rest = await Promise.all(
      Array.from({ length: 100 }, () =>
        post(ours.url, { query: '{ user(id: "1") { name } }' }, caller),
      ),
    );
    const statuses = rest.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 99, `${statuses}`);
    const refused = rest.find((r) => r.status === 429)!;
    assert.equal(refused.json.errors[0].extensions.code, 'RATE_LIMITED');
    assert.match(String(refused.headers['retry-after']), /^(9|10)$/);
  });
});
