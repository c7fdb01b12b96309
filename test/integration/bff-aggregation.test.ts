import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startDemoBackends } from '../../demo/backends.ts';
import { ConfigError } from '../../src/config/errors.ts';
import { loadConfig } from '../../src/config/load.ts';
import { ORDERS, PRODUCTS, USERS } from '../../demo/data.ts';
import type { ReloadOutcome } from '../../src/runtime/snapshot-manager.ts';
import { post, startTestGateway } from '../helpers/env.ts';
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

/**
 * A copy of the demo's supergraph.yaml in a folder of its own, changed by `edit`: its schemas,
 * protos and demo modules are the repository's (linked), so relative paths read the same.
 */
async function demoProject(edit: (config: any) => void = () => {}) {
  const dir = await mkdtemp(join(tmpdir(), 'bff-'));
  for (const folder of ['schemas', 'protos', 'demo'])
    await symlink(join(ROOT, folder), join(dir, folder));
  const config = parse(await readFile(CONFIG, 'utf8'));
  edit(config);
  const configFile = join(dir, 'supergraph.yaml');
  await writeFile(configFile, stringify(config));
  return { dir, configFile, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** The message of the ConfigError loading `configFile` throws. */
async function loadFailure(configFile: string, env: Record<string, string> = {}): Promise<string> {
  try {
    await loadConfig(configFile, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  assert.fail('the config was accepted');
}

describe('the mobile home aggregation over the demo backends', () => {
  let demo: Awaited<ReturnType<typeof startDemo>>;
  let project: Awaited<ReturnType<typeof demoProject>>;
  before(async () => {
    // The demo caches its catalogue (docs/caching.md): off here, where every backend call is
    // counted, so that a count says what the aggregation asked for, not what an earlier test
    // left in the cache.
    project = await demoProject((config) => {
      config.cache.enabled = false;
    });
    demo = await startDemo(project.configFile);
  });
  after(async () => {
    await demo.gateway.close();
    await demo.backends.close();
    await project.remove();
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

describe('a section whose backend is down', () => {
  const stopped = {
    users: { section: 'viewer', path: ['home', 'viewer'] },
    orders: { section: 'recentOrders', path: ['home', 'recentOrders'] },
    products: { section: 'recommended', path: ['home', 'recommended'] },
  } as const;
  for (const [backend, { section, path }] of Object.entries(stopped)) {
    test(`with ${backend} stopped, home serves the other sections and an error at ${section}`, async (t) => {
      const demo = await startDemo();
      t.after(async () => {
        await demo.gateway.close();
        // The stopped backend was closed already.
        await demo.backends.close().catch(() => {});
      });
      await demo.backends[backend as keyof typeof stopped].close();
      const res = await post(demo.gateway.url, { query: HOME }, ada);
      assert.equal(res.status, 200);
      const expected: Record<string, unknown> = { ...expectedHome('1'), [section]: null };
      const errors = res.json.errors.map((e: any) => [e.path, e.extensions.code]);
      if (backend === 'orders') {
        // The recommendations do without the orders: nothing to leave out.
        expected.recommended = PRODUCTS.slice(0, 3).map((p) => ({ id: p.id, name: p.name }));
      }
      if (backend === 'products') {
        // The orders are served; each item's name is null with its own error.
        expected.recentOrders = expectedHome('1').recentOrders.map((o) => ({
          ...o,
          items: o.items.map((i) => ({ ...i, productName: null })),
        }));
        const names = errors.filter(([p]: [unknown[]]) => p.at(-1) === 'productName');
        assert.ok(names.length > 0);
        for (const [, code] of names) assert.equal(code, 'UPSTREAM_UNAVAILABLE');
      }
      assert.deepEqual(res.json.data, { home: expected });
      assert.deepEqual(
        errors.filter(([p]: [unknown[]]) => p.at(-1) !== 'productName'),
        [[path, 'UPSTREAM_UNAVAILABLE']],
      );
    });
  }
});

describe('limits of sub-operations', () => {
  test("the sub-operations spend the caller's cost budget, not their request budget", async (t) => {
    const project = await demoProject((config) => {
      config.limits.rate.policies = [
        // Three requests: home runs four operations more, which must not count as requests.
        { name: 'burst', limit: 3, window: '1m' },
        { name: 'points', unit: 'cost', limit: 100000, window: '1m', surfaces: ['graphql'] },
      ];
    });
    const demo = await startDemo(project.configFile);
    t.after(async () => {
      await demo.gateway.close();
      await demo.backends.close();
      await project.remove();
    });
    const home = await post(demo.gateway.url, { query: HOME, extensions: { cost: true } }, ada);
    assert.equal(home.status, 200);
    assert.equal(home.json.errors, undefined);
    const second = await post(demo.gateway.url, { query: HOME }, ada);
    assert.equal(second.json.errors, undefined);
    const probe = await post(
      demo.gateway.url,
      { query: '{ __typename }', extensions: { cost: true } },
      ada,
    );
    assert.equal(probe.status, 200, 'a third request is within a budget of three');
    const remaining = (policy: string) =>
      Number(new RegExp(`"${policy}";r=(\\d+)`).exec(String(probe.headers.ratelimit))?.[1]);
    assert.equal(remaining('burst'), 0);
    // What the two homes spent, beyond the probe: more than their own estimates, since every
    // operation their resolvers ran was charged too.
    const spent = 100000 - remaining('points') - probe.json.extensions.cost.estimated;
    assert.ok(
      spent > 2 * home.json.extensions.cost.estimated,
      `spent ${spent}, the homes alone estimated ${home.json.extensions.cost.estimated} each`,
    );
  });
});

describe('a limit refusing a sub-operation', () => {
  test('refuses its section alone, with its code, and the response stays 200', async (t) => {
    const project = await demoProject((config) => {
      config.limits.rate.policies = [
        { name: 'points', unit: 'cost', limit: 15, window: '1m', surfaces: ['graphql'] },
      ];
    });
    const demo = await startDemo(project.configFile);
    t.after(async () => {
      await demo.gateway.close();
      await demo.backends.close();
      await project.remove();
    });
    const res = await post(
      demo.gateway.url,
      { query: '{ home { viewer { id } recommended { id } } }', extensions: { cost: true } },
      ada,
    );
    // home is estimated at 12 of the 15 points; the viewer's operation (1) fits in what is
    // left, the catalog's (a list: 10) does not.
    assert.equal(res.json.extensions.cost.estimated, 12);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.data, { home: { viewer: { id: '1' }, recommended: null } });
    assert.deepEqual(
      res.json.errors.map((e: any) => [e.path, e.extensions.code]),
      [[['home', 'recommended'], 'RATE_LIMITED']],
    );
  });
});

describe('a persisted-only client', () => {
  test("serves home from its manifest: the resolvers' own operations need no listing", async (t) => {
    const body = `query Home ${HOME}`;
    const id = createHash('sha256').update(body).digest('hex');
    const project = await demoProject((config) => {
      config.clients = {
        mobile: {
          persisted_documents: { manifest: './manifest.json', persisted_only: true, apq: false },
        },
      };
    });
    await writeFile(
      join(project.dir, 'manifest.json'),
      JSON.stringify({
        format: 'apollo-persisted-query-manifest',
        version: 1,
        operations: [{ id, name: 'Home', type: 'query', body }],
      }),
    );
    const demo = await startDemo(project.configFile);
    t.after(async () => {
      await demo.gateway.close();
      await demo.backends.close();
      await project.remove();
    });
    const mobile = `${demo.gateway.origin}/graphql/mobile`;
    const res = await post(mobile, { documentId: id }, ada);
    assert.deepEqual(res.json, { data: { home: expectedHome('1') } });
    const raw = await post(mobile, { query: '{ home { viewer { id } } }' }, ada);
    assert.equal(raw.status, 403);
  });
});

describe('REST calls of a BFF subgraph', () => {
  test('bff.rest calls a REST source the config names, through the outbound chain as the caller', async (t) => {
    const project = await demoProject((config) => {
      config.subgraphs.mobile.source.resolvers = './module.ts';
      config.subgraphs.mobile.source.rest = ['users'];
    });
    await writeFile(
      join(project.dir, 'module.ts'),
      `export const resolvers = {
  Query: { home: () => ({}) },
  Home: {
    viewer: (_home: unknown, _args: unknown, { bff }: any) =>
      bff.rest('users', { path: '/users/' + bff.caller.subject, label: 'GET /users/{id}' }),
    recommended: (_home: unknown, _args: unknown, { bff }: any) =>
      bff.rest('orders', { path: '/anything' }),
  },
};
`,
    );
    const seen: Record<string, unknown>[] = [];
    const backends = await startDemoBackends(
      { users: 0, orders: 0, products: 0 },
      { onUsersRequest: (req) => seen.push(req.headers) },
    );
    const gateway = await startTestGateway({
      configFile: project.configFile,
      env: { ...backends.env, GRPC_PORT: '0' },
      stages: withTestIdentity(),
    });
    t.after(async () => {
      await gateway.close();
      await backends.close();
      await project.remove();
    });
    const res = await post(
      gateway.url,
      { query: '{ home { viewer { id name } recommended { id } } }' },
      ada,
    );
    assert.deepEqual(res.json.data, {
      home: { viewer: { id: '1', name: 'Ada Lovelace' }, recommended: null },
    });
    // The identity and correlation headers every backend call carries.
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.['x-gateway-subject'], '1');
    assert.equal(seen[0]?.['x-correlation-id'], res.headers['x-correlation-id']);
    // A backend source.rest does not name is never called.
    assert.deepEqual(
      res.json.errors.map((e: any) => e.path),
      [['home', 'recommended']],
    );
  });
});

describe('the resolvers module', () => {
  /** The demo project with the mobile subgraph's resolvers in `module.ts` of its folder. */
  async function withModule(text: string | undefined) {
    const project = await demoProject((config) => {
      config.subgraphs.mobile.source.resolvers = './module.ts';
    });
    if (text !== undefined) await writeFile(join(project.dir, 'module.ts'), text);
    return project;
  }

  test('a missing module is a config error at its key, with file and line', async (t) => {
    const project = await withModule(undefined);
    t.after(project.remove);
    const message = await loadFailure(project.configFile);
    assert.match(
      message,
      /supergraph\.yaml:\d+:\d+: subgraphs\.mobile\.source\.resolvers: \.\/module\.ts cannot read \(ENOENT\)/,
    );
  });

  test('a module that fails to import is a config error naming why', async (t) => {
    const project = await withModule('throw new Error("no database URL");\nexport {};\n');
    t.after(project.remove);
    assert.match(
      await loadFailure(project.configFile),
      /subgraphs\.mobile\.source\.resolvers: \.\/module\.ts cannot import: no database URL/,
    );
  });

  test('exports that do not match the SDL are config errors, one per mismatch', async (t) => {
    const project = await withModule(
      'export const resolvers = { Query: {}, Home: { viewr: () => null }, Homme: {} };\n',
    );
    t.after(project.remove);
    const message = await loadFailure(project.configFile);
    assert.match(message, /resolvers\.Home\.viewr: Home has no field viewr/);
    assert.match(message, /resolvers\.Homme: the schema has no type Homme/);
    assert.match(message, /resolvers\.Query\.home: missing/);
  });

  test('a module without a resolvers export is a config error', async (t) => {
    const project = await withModule('export const resolver = {};\n');
    t.after(project.remove);
    assert.match(await loadFailure(project.configFile), /\.\/module\.ts exports no `resolvers`/);
  });

  test('a resolver whose operation reaches its own field is stopped, three operations deep', async (t) => {
    const project = await withModule(`export const resolvers = {
  Query: { home: () => ({}) },
  Home: {
    recommended: async (_home: unknown, _args: unknown, { bff }: any) =>
      (await bff.query('{ home { recommended { id } } }')).home.recommended,
  },
};
`);
    const demo = await startDemo(project.configFile);
    t.after(async () => {
      await demo.gateway.close();
      await demo.backends.close();
      await project.remove();
    });
    const res = await post(demo.gateway.url, { query: '{ home { recommended { id } } }' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.data, { home: { recommended: null } });
    assert.deepEqual(
      res.json.errors.map((e: any) => [e.path, e.extensions.code]),
      [[['home', 'recommended'], 'INTERNAL_SERVER_ERROR']],
    );
  });

  test('an edited module is served after the reload it triggers, a broken one is not', async (t) => {
    const recommend = (count: number) => `// Recommends the first ${count} products.
export const resolvers = {
  Query: { home: () => ({}) },
  Home: {
    recommended: async (_home: unknown, _args: unknown, { bff }: any) =>
      (await bff.query('{ products { id name priceCents } }')).products.slice(0, ${count}),
  },
};
`;
    const project = await withModule(recommend(1));
    const demo = await startDemo(project.configFile);
    t.after(async () => {
      await demo.gateway.close();
      await demo.backends.close();
      await project.remove();
    });
    const query = { query: '{ home { recommended { id } } }' };
    const before = await post(demo.gateway.url, query);
    assert.equal(before.json.data.home.recommended.length, 1);
    const reloaded = once(demo.gateway.running.app.manager, 'reload');
    await writeFile(join(project.dir, 'module.ts'), `${recommend(2)}// edited\n`);
    const [outcome] = (await reloaded) as [ReloadOutcome];
    assert.equal(outcome.ok, true);
    const after = await post(demo.gateway.url, query);
    assert.equal(after.json.data.home.recommended.length, 2);

    // A module that no longer loads fails the reload: the last good one keeps serving.
    const failed = once(demo.gateway.running.app.manager, 'reload');
    await writeFile(join(project.dir, 'module.ts'), 'throw new Error("half-saved");\n');
    const [refused] = (await failed) as [ReloadOutcome];
    assert.equal(refused.ok, false);
    const still = await post(demo.gateway.url, query);
    assert.equal(still.json.data.home.recommended.length, 2);
  });
});
