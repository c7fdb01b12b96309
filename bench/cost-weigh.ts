/**
 * What weighing costs per request, in process: the estimate of an operation whose plan is
 * cached but whose cost depends on a variable (so it is weighed every time), and the actual
 * cost of one fetch's answer of 10 orders x 10 items. Figures in docs/limits.md#query-cost.
 * Run: node --import ./bin/typescript-loader.js bench/cost-weigh.ts
 */
import { parse } from 'graphql';
import { composeSupergraph } from '../src/composition/compose.ts';
import { buildCostModel, estimateOperationCost } from '../src/policies/limits/cost.ts';
import { VariableReader } from '../src/policies/limits/cost-rules.ts';
import { weighResponse } from '../src/policies/limits/response-cost.ts';
import { buildSchema } from 'graphql';

const FED = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key", "@listSize"])`;
const { supergraphSdl } = composeSupergraph([
  {
    name: 'users',
    url: 'http://127.0.0.1:9/users',
    sourceName: 'users',
    sdl: `${FED} type Query { user(id: ID!): User } type User @key(fields: "id") { id: ID! name: String }`,
  },
  {
    name: 'orders',
    url: 'http://127.0.0.1:9/orders',
    sourceName: 'orders',
    sdl: `${FED} type User @key(fields: "id") { id: ID! orders(first: Int): [Order] @listSize(slicingArguments: ["first"]) }
      type Order { id: ID! items: [Item] } type Item { quantity: Int product: Product }
      type Product @key(fields: "id") { id: ID! }`,
  },
  {
    name: 'products',
    url: 'http://127.0.0.1:9/products',
    sourceName: 'products',
    sdl: `${FED} type Product @key(fields: "id") { id: ID! name: String }`,
  },
]);
const model = buildCostModel(supergraphSdl, 10);
const schema = buildSchema(supergraphSdl, { assumeValidSDL: true });
const document = parse(
  'query($n: Int) { user(id: "1") { name orders(first: $n) { id items { quantity product { name } } } } }',
);

function time(label: string, runs: number, run: (i: number) => void): void {
  for (let i = 0; i < 2000; i++) run(i); // warm up, and plan once
  const start = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) run(i);
  const us = Number(process.hrtime.bigint() - start) / 1000 / runs;
  console.log(`${label}: ${us.toFixed(1)} µs`);
}

time('estimate on the cached plan (3 fetches, variable-dependent)', 20_000, (i) =>
  estimateOperationCost(model, { document, name: undefined, variables: { n: i % 10 }, schema }),
);

const ordersSchema = model.planner()!.schemaOf('orders')!;
const fetch = parse(
  'query($representations:[_Any!]!){_entities(representations:$representations){...on User{orders(first: 10){id items{quantity product{__typename id}}}}}}',
);
const data = {
  _entities: [
    {
      orders: Array.from({ length: 10 }, (_, o) => ({
        id: String(o),
        items: Array.from({ length: 10 }, (_, i) => ({
          quantity: i,
          product: { __typename: 'Product', id: String(i) },
        })),
      })),
    },
  ],
};
time('actual cost of one fetch answer (10 orders x 10 items)', 20_000, () =>
  weighResponse(model, ordersSchema, fetch, undefined, data, new VariableReader({})),
);
