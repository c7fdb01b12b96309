import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import type { ReloadOutcome } from '../../src/runtime/snapshot-manager.ts';
import {
  get,
  post,
  startGatewayOver,
  startSubgraphs,
  startTestGateway,
  writeProject,
  type GatewayOver,
  type TestGateway,
} from '../helpers/env.ts';
import type { SubgraphServerOptions } from '../helpers/subgraph-server.ts';

/**
 * Products: `id` (the key) carries no tag, so the `public` contract hides it while the planner
 * still uses it to fetch reviews from the other subgraph.
 */
const products: Omit<SubgraphServerOptions, 'port'> = {
  name: 'products',
  sdl: `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@tag"])
type Product @key(fields: "id") {
  id: ID!
  name: String! @tag(name: "public")
  costCents: Int! @tag(name: "internal")
  supplierNotes: String
}
type Query {
  product(id: ID!): Product @tag(name: "public")
  internalStats: Int @tag(name: "internal")
}`,
  resolvers: {
    Query: {
      product: (_: unknown, { id }: { id: string }) => ({ id }),
      internalStats: () => 7,
    },
    Product: {
      __resolveReference: ({ id }: { id: string }) => ({ id }),
      name: ({ id }: { id: string }) => `Product ${id}`,
      costCents: () => 250,
      supplierNotes: () => 'ships late',
    },
  },
};

const reviews: Omit<SubgraphServerOptions, 'port'> = {
  name: 'reviews',
  sdl: `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@tag"])
type Product @key(fields: "id") {
  id: ID!
  reviews: [String!]! @tag(name: "public")
}`,
  resolvers: {
    Product: {
      __resolveReference: ({ id }: { id: string }) => ({ id }),
      reviews: ({ id }: { id: string }) => [`great ${id}`],
    },
  },
};

const CLIENTS = {
  web: { default: true },
  mobile: { contract: { include: ['public'] } },
  // The same filter written another way: one contract, one engine.
  watch: { contract: { include: ['public', 'public'] } },
  partner: { contract: { exclude: ['internal'] } },
};

const fieldsOf = (result: { json: unknown }, type: string): string[] => {
  const data = (result.json as { data: Record<string, { fields: { name: string }[] } | null> })
    .data;
  return (data[type]?.fields ?? []).map((f) => f.name).sort();
};
const TYPE_FIELDS = (type: string) => `{ t: __type(name: "${type}") { fields { name } } }`;

describe('contracts: each client is served its own schema', () => {
  let over: GatewayOver;
  let gateway: TestGateway;
  let project: GatewayOver['project'];

  before(async () => {
    // Development mode: validation messages keep graphql-js's "Did you mean" suggestions,
    // which must not name a hidden field either.
    over = await startGatewayOver([products, reviews], {
      config: {
        server: { mode: 'development', batching: { enabled: true } },
        clients: CLIENTS,
      },
    });
    ({ gateway, project } = over);
  });
  after(() => over.close());

  const call = (path: string, query: string) => post(`${gateway.origin}${path}`, { query });

  test('introspection shows each client its own schema', async () => {
    const product = TYPE_FIELDS('Product');
    assert.deepEqual(fieldsOf(await call('/graphql', product), 't'), [
      'costCents',
      'id',
      'name',
      'reviews',
      'supplierNotes',
    ]);
    assert.deepEqual(fieldsOf(await call('/graphql/mobile', product), 't'), ['name', 'reviews']);
    assert.deepEqual(fieldsOf(await call('/graphql/partner', product), 't'), [
      'id',
      'name',
      'reviews',
      'supplierNotes',
    ]);
    assert.deepEqual(fieldsOf(await call('/graphql/mobile', TYPE_FIELDS('Query')), 't'), [
      'product',
    ]);
    const sdlTypes = await call('/graphql/mobile', '{ __schema { types { name } } }');
    const names = (sdlTypes.json as { data: { __schema: { types: { name: string }[] } } }).data
      .__schema.types;
    assert.ok(names.some((t) => t.name === 'Product'));
    assert.ok(!JSON.stringify(names).includes('join__'), 'no federation internals');
  });

  test('a hidden field is refused as an unknown one, with nothing that names it', async () => {
    const hidden = await call('/graphql/mobile', '{ product(id: "1") { costCents } }');
    const unknown = await call('/graphql/mobile', '{ product(id: "1") { priceTag } }');
    assert.equal(hidden.status, unknown.status);
    const message = (r: { json: unknown }) =>
      (r.json as { errors: { message: string; extensions: { code: string } }[] }).errors[0]!;
    assert.equal(message(hidden).extensions.code, 'GRAPHQL_VALIDATION_FAILED');
    assert.equal(
      message(hidden).message.replace('costCents', 'X'),
      message(unknown).message.replace('priceTag', 'X'),
    );
    // A near miss of a hidden field suggests nothing; of a visible one, the visible one.
    const near = await call('/graphql/mobile', '{ product(id: "1") { supplierNote } }');
    assert.doesNotMatch(JSON.stringify(near.json), /supplierNotes|Did you mean/);
    const visible = await call('/graphql/mobile', '{ product(id: "1") { nam } }');
    assert.match(message(visible).message, /Did you mean "name"\?/);
    const root = await call('/graphql/mobile', '{ internalStats }');
    assert.match(message(root).message, /Cannot query field "internalStats" on type "Query"\./);
    assert.equal(
      message(root).message,
      message(await call('/graphql/mobile', '{ stats }')).message.replace('stats', 'internalStats'),
    );
    // The hidden key still joins the subgraphs: the planner sees the whole supergraph.
    const joined = await call('/graphql/mobile', '{ product(id: "3") { name reviews } }');
    assert.deepEqual(joined.json, {
      data: { product: { name: 'Product 3', reviews: ['great 3'] } },
    });
  });

  test("each operation of a batch is validated against its client's contract", async () => {
    const batch = await post(`${gateway.origin}/graphql/mobile`, [
      { query: '{ product(id: "1") { name } }' },
      { query: '{ product(id: "1") { costCents } }' },
    ]);
    assert.equal(batch.status, 200);
    const [visible, hidden] = batch.json as { data?: unknown; errors?: { message: string }[] }[];
    assert.deepEqual(visible, { data: { product: { name: 'Product 1' } } });
    assert.match(hidden?.errors?.[0]?.message ?? '', /Cannot query field "costCents"/);
  });

  test('the whole graph serves what the contracts hide', async () => {
    const full = await call(
      '/graphql',
      '{ product(id: "1") { costCents supplierNotes } internalStats }',
    );
    assert.deepEqual(full.json, {
      data: { product: { costCents: 250, supplierNotes: 'ships late' }, internalStats: 7 },
    });
    const partner = await call('/graphql/partner', '{ product(id: "1") { supplierNotes } }');
    assert.deepEqual(partner.json, { data: { product: { supplierNotes: 'ships late' } } });
  });

  test("clients with one filter share a contract; /readyz names each client's", async () => {
    const ready = await get(`${gateway.adminOrigin}/readyz`);
    const contracts = (ready.json as { supergraph: { contracts: Record<string, string> } })
      .supergraph.contracts;
    assert.deepEqual(Object.keys(contracts).sort(), ['mobile', 'partner', 'watch']);
    assert.equal(contracts.mobile, contracts.watch);
    assert.notEqual(contracts.mobile, contracts.partner);
  });

  test('a reload rebuilds contracts; one that breaks a contract keeps every client on the last good graph', async () => {
    const reload = () =>
      once(gateway.running.app.manager, 'reload').then(([o]) => o as ReloadOutcome);
    const config = parse(await readFile(project.configFile, 'utf8')) as {
      clients: Record<string, { contract?: { include?: string[] } }>;
    };
    // mobile now includes `internal` too.
    config.clients.mobile = { contract: { include: ['public', 'internal'] } };
    let reloaded = reload();
    await project.write('supergraph.yaml', stringify(config));
    assert.equal((await reloaded).ok, true);
    const now = await call('/graphql/mobile', '{ product(id: "1") { costCents } internalStats }');
    assert.deepEqual(now.json, { data: { product: { costCents: 250 }, internalStats: 7 } });

    // A tag nothing carries leaves mobile without a query root: the whole reload is refused.
    config.clients.mobile = { contract: { include: ['nothing-has-this'] } };
    reloaded = reload();
    await project.write('supergraph.yaml', stringify(config));
    const failed = await reloaded;
    assert.equal(failed.ok, false);
    const message = failed.ok ? '' : failed.error.message;
    assert.match(message, /supergraph\.yaml:\d+:\d+: clients\.mobile\.contract: /);
    assert.match(message, /CONTRACT_EMPTY/);
    const still = await call('/graphql/mobile', '{ product(id: "1") { costCents } }');
    assert.deepEqual(still.json, { data: { product: { costCents: 250 } } });
    const web = await call('/graphql', '{ product(id: "1") { supplierNotes } }');
    assert.deepEqual(web.json, { data: { product: { supplierNotes: 'ships late' } } });
    const ready = await get(`${gateway.adminOrigin}/readyz`);
    assert.match(JSON.stringify(ready.json), /clients\.mobile\.contract/);
  });
});

describe('contracts: a broken contract at start', () => {
  test('is a config error naming the client, the key and its line', async () => {
    const subgraphs = await startSubgraphs([products]);
    const project = await writeProject(subgraphs.servers, {
      clients: { kiosk: { contract: { exclude: ['public', 'internal'] } } },
    });
    try {
      await assert.rejects(startTestGateway({ configFile: project.configFile }), (error: Error) => {
        assert.match(error.message, /supergraph\.yaml:\d+:\d+: clients\.kiosk\.contract: /);
        assert.match(error.message, /CONTRACT_EMPTY/);
        return true;
      });
    } finally {
      await subgraphs.close();
      await project.remove();
    }
  });
});
