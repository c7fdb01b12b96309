import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { post, startSubgraphs, startTestGateway, writeProject } from '../helpers/env.ts';
import type { SubgraphServerOptions } from '../helpers/subgraph-server.ts';

const FED = (imports: string) =>
  `extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: [${imports}])`;

interface Ship {
  id: string;
  name: string;
  owner: { id: string };
}
const SHIPS: Ship[] = ['a', 'b', 'c'].map((id) => ({ id, name: `ship ${id}`, owner: { id } }));

/** Ships, whose `fee` @requires the owner's addresses, which only `users` serves. */
const ships: Omit<SubgraphServerOptions, 'port'> = {
  name: 'ships',
  sdl: `${FED('"@key", "@external", "@requires", "@listSize"')}
type Query { ships(first: Int): [Ship] @listSize(slicingArguments: ["first"]) }
type Ship @key(fields: "id") { id: ID! name: String owner: User fee: Float @requires(fields: "owner { addresses { zip } }") }
type User @key(fields: "id") { id: ID! addresses: [Address] @external }
type Address { zip: Int @external }`,
  resolvers: {
    Query: { ships: (_: unknown, { first }: { first: number }) => SHIPS.slice(0, first) },
    Ship: {
      __resolveReference: (ship: Ship & { owner?: { addresses?: unknown[] } }) => ({
        ...SHIPS.find((s) => s.id === ship.id),
        ...ship,
      }),
      fee: (ship: { owner?: { addresses?: unknown[] } }) =>
        10 * (ship.owner?.addresses?.length ?? 0),
    },
  },
};

const users: Omit<SubgraphServerOptions, 'port'> = {
  name: 'users',
  sdl: `${FED('"@key", "@listSize", "@shareable"')}
type User @key(fields: "id") { id: ID! name: String addresses: [Address] @listSize(assumedSize: 2) }
type Address @shareable { zip: Int }`,
  resolvers: {
    User: {
      __resolveReference: ({ id }: { id: string }) => ({ id, name: `owner ${id}` }),
      addresses: () => [{ zip: 1000 }],
    },
  },
};

const RESPONSE = { accept: 'application/graphql-response+json' };

// The estimate sums the plan's fetches, each on its subgraph; an entity fetch counts one
// `_entities` instance per object at its Flatten path:
//   ships:  { ships(first: 2) { name owner { id } } }                  2 x (Ship 1 + owner 1) = 4
//   users:  Flatten(ships.@.owner) _entities { ... on User { addresses { zip } } }
//           2 ships x 1 owner = 2 representations x (1 + 2 addresses (assumedSize) x 1) = 6
//   ships:  Flatten(ships.@) _entities { ... on Ship { fee } }         2 x 1 = 2
// 12 in all. The actual cost weighs what came back: 2 ships and 2 owners (4), 2 users with one
// address each (2 x 2), 2 ships with their fee (2): 10, the estimate less the one address per
// user that was assumed and not served.
const WITH_REQUIRES = '{ ships(first: 2) { name fee } }';
const MAX = 12;

describe('cost limits', () => {
  let env: Awaited<ReturnType<typeof start>>;
  before(async () => {
    env = await start({ limits: { cost: { max: MAX } } });
  });
  after(() => env.close());

  const received = () => env.backends.reduce((sum, b) => sum + b.received.length, 0);

  test('an operation estimated at the max is served, @requires fetches included', async () => {
    const before = received();
    const response = await post(env.gateway.url, { query: WITH_REQUIRES }, RESPONSE);
    assert.equal(response.status, 200, response.text);
    assert.deepEqual(response.json.data.ships, [
      { name: 'ship a', fee: 10 },
      { name: 'ship b', fee: 10 },
    ]);
    assert.equal(received() - before, 3, 'three fetches');
  });

  // `ships(first: N) { name }` is one fetch costing N: the max and one above it.
  test('an operation estimated just over the max is refused with COST_ESTIMATED_TOO_EXPENSIVE, 400, no backend called', async () => {
    const at = await post(
      env.gateway.url,
      { query: `{ ships(first: ${MAX}) { name } }` },
      RESPONSE,
    );
    assert.equal(at.status, 200, at.text);
    const before = received();
    for (const query of [
      `{ ships(first: ${MAX + 1}) { name } }`,
      // 3 x 2 + 3 x (1 + 2) + 3 x 1 = 18
      '{ ships(first: 3) { name fee } }',
    ]) {
      const response = await post(env.gateway.url, { query }, RESPONSE);
      assert.equal(response.status, 400, response.text);
      assert.equal(response.json.data, undefined);
      const [error] = response.json.errors;
      assert.equal(error.extensions.code, 'COST_ESTIMATED_TOO_EXPENSIVE');
      assert.equal(error.extensions['cost.max'], MAX);
      assert.equal(error.extensions.max, MAX);
      assert.equal(error.extensions['cost.estimated'], error.extensions.found);
      assert.ok(error.extensions.found > MAX);
    }
    assert.equal(received(), before);
  });

  test('a slicing argument from a variable sizes the estimate', async () => {
    const query = 'query($n: Int) { ships(first: $n) { name } }';
    const before = received();
    const over = await post(env.gateway.url, { query, variables: { n: MAX + 1 } }, RESPONSE);
    assert.equal(over.json.errors[0].extensions.found, MAX + 1);
    assert.equal(received(), before);
    const at = await post(env.gateway.url, { query, variables: { n: MAX } }, RESPONSE);
    assert.equal(at.status, 200, at.text);
  });

  test('a list field given no slicing argument it requires is refused with COST_QUERY_PARSE_FAILURE, no backend called', async () => {
    const before = received();
    const response = await post(env.gateway.url, { query: '{ ships { name } }' }, RESPONSE);
    assert.equal(response.status, 400, response.text);
    assert.equal(response.json.errors[0].extensions.code, 'COST_QUERY_PARSE_FAILURE');
    assert.equal(response.json.errors[0].extensions.found, 0);
    assert.equal(received(), before);
  });

  test('the estimate and the actual cost are in extensions when the client asks, and in the log line', async () => {
    const asked = await post(
      env.gateway.url,
      { query: WITH_REQUIRES, operationName: null, extensions: { cost: true } },
      RESPONSE,
    );
    assert.deepEqual(asked.json.extensions.cost, { estimated: 12, actual: 10, max: MAX });
    const unasked = await post(env.gateway.url, { query: WITH_REQUIRES }, RESPONSE);
    assert.equal(unasked.json.extensions?.cost, undefined);
    const line = await env.gateway.logs.find(
      (l) => l.msg === 'request' && l.actualCost !== undefined,
    );
    assert.equal(line.cost, 12);
    assert.equal(line.actualCost, 10);
  });
});

describe('cost limits by default', () => {
  let env: Awaited<ReturnType<typeof start>>;
  before(async () => {
    env = await start({});
  });
  after(() => env.close());

  test('the default max (5000) is on: admitted at it, refused above it', async () => {
    const at = await post(env.gateway.url, { query: '{ ships(first: 5000) { name } }' }, RESPONSE);
    assert.equal(at.status, 200, at.text);
    const over = await post(
      env.gateway.url,
      { query: '{ ships(first: 5001) { name } }' },
      RESPONSE,
    );
    assert.equal(over.status, 400);
    assert.equal(over.json.errors[0].extensions.code, 'COST_ESTIMATED_TOO_EXPENSIVE');
    assert.equal(over.json.errors[0].extensions.max, 5000);
  });
});

async function start(extra: Record<string, unknown>) {
  const subgraphs = await startSubgraphs([ships, users]);
  const project = await writeProject(subgraphs.servers, {
    federation_version: '=2.9.0',
    ...extra,
  });
  const gateway = await startTestGateway({ configFile: project.configFile });
  return {
    gateway,
    backends: subgraphs.servers,
    async close() {
      await gateway.close();
      await subgraphs.close();
      await project.remove();
    },
  };
}
