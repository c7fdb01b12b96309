import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, print, printSchema, type DirectiveNode, type FieldDefinitionNode } from 'graphql';
import { stringify } from 'yaml';
import { PROTOS_DIR } from '../../demo/backends/orders-grpc.ts';
import { createOfflineGateway } from '../../src/gateway/offline-gateway.ts';
import { buildAuthModel } from '../../src/policies/auth/requirements.ts';
import { configSource, createLoadDeps } from '../../src/runtime/sources.ts';
import type { RuntimeSnapshot } from '../../src/runtime/snapshot.ts';
import { writeProject } from '../helpers/env.ts';

const LINK = (version: string, imports: string[]) =>
  `extend schema @link(url: "https://specs.apollo.dev/federation/${version}", import: ${JSON.stringify(imports)})`;

/** A native subgraph: the three directives on a field, an object, a scalar and an enum. */
const NATIVE = `${LINK('v2.6', ['@key', '@authenticated', '@requiresScopes', '@policy'])}
scalar Secret @requiresScopes(scopes: [["secrets:read"]])
enum Tier @authenticated { FREE PAID }
type Account @key(fields: "id") @policy(policies: [["staff"]]) { id: ID! note: String }
type Product @key(fields: "id") {
  id: ID!
  name: String!
  cost: Int @requiresScopes(scopes: [["costs:read"], ["admin", "finance"]])
  code: Secret
  tier: Tier
}
type Query { product(id: ID!): Product account(id: ID!): Account }`;

/** A REST adapter subgraph: the directives sit beside @rest and survive its stripping. */
const REST = `${LINK('v2.5', ['@key', '@authenticated', '@requiresScopes'])}
type User @key(fields: "id") @restEntity(get: "/users/{key.id}") {
  id: ID!
  name: String!
  email: String @requiresScopes(scopes: [["users:email"]])
}
type Query { user(id: ID!): User @rest(get: "/users/{args.id}") @authenticated }`;

/**
 * A gRPC adapter overlay: a generated root field and a generated message field annotated by
 * redeclaring them in an extension, and a generated type made authenticated as a whole.
 */
const OVERLAY = `${LINK('v2.5', ['@key', '@authenticated', '@requiresScopes'])}
extend type Mutation { createOrder: Order @authenticated }
extend type Order @key(fields: "id") @grpcEntity(method: "BatchGetOrders", request: { ids: "{keys.id}" }, select: "orders") {
  "When the order was placed."
  createdAt: DateTime @requiresScopes(scopes: [["orders:audit"]])
}
extend type ListOrdersByUserResponse @authenticated`;

/** The authorization directives at a coordinate (`Type` or `Type.field`) of an SDL, printed. */
function authDirectives(sdl: string) {
  const document = parse(sdl);
  return (coordinate: string): string[] => {
    const [typeName, fieldName] = coordinate.split('.');
    const type = document.definitions.find(
      (d) => 'name' in d && d.name?.value === typeName && 'directives' in d,
    ) as { directives?: readonly DirectiveNode[]; fields?: readonly FieldDefinitionNode[] };
    const directives = fieldName
      ? type.fields?.find((f) => f.name.value === fieldName)?.directives
      : type.directives;
    return (directives ?? [])
      .filter((d) => ['authenticated', 'requiresScopes', 'policy'].includes(d.name.value))
      .map((d) => print(d));
  };
}

describe('field authorization directives through composition', () => {
  let project: Awaited<ReturnType<typeof writeProject>>;
  const deps = createLoadDeps();
  let snapshot: RuntimeSnapshot;

  before(async () => {
    project = await writeProject([]);
    await project.write('catalog.graphql', NATIVE);
    await project.write('users.graphql', REST);
    await project.write('orders.graphql', OVERLAY);
    await project.write(
      'supergraph.yaml',
      stringify({
        federation_version: '=2.6.0',
        subgraphs: {
          catalog: {
            routing_url: 'http://127.0.0.1:9/graphql',
            schema: { file: './catalog.graphql' },
          },
          users: {
            schema: { file: './users.graphql' },
            source: { kind: 'rest', base_url: 'http://127.0.0.1:9' },
          },
          orders: {
            schema: { file: './orders.graphql' },
            source: {
              kind: 'grpc',
              address: '127.0.0.1:9',
              protos: ['demo/orders/v1/orders.proto'],
              include_dirs: [PROTOS_DIR],
            },
          },
        },
      }),
    );
    snapshot = await configSource(project.configFile, {}).load(deps);
  });

  after(async () => {
    await deps.close();
    await project.remove();
  });

  test('the supergraph links the three specs for SECURITY', () => {
    for (const spec of ['authenticated', 'requiresScopes', 'policy'])
      assert.match(
        snapshot.supergraph.sdl,
        new RegExp(`@link\\(url: "https://specs.apollo.dev/${spec}/v0.1", for: SECURITY\\)`),
      );
  });

  test('directives of a native subgraph reach the supergraph on fields, objects, scalars and enums', () => {
    const at = authDirectives(snapshot.supergraph.sdl);
    assert.deepEqual(at('Product.cost'), [
      '@requiresScopes(scopes: [["costs:read"], ["admin", "finance"]])',
    ]);
    assert.deepEqual(at('Secret'), ['@requiresScopes(scopes: [["secrets:read"]])']);
    assert.deepEqual(at('Tier'), ['@authenticated']);
    assert.deepEqual(at('Account'), ['@policy(policies: [["staff"]])']);
  });

  test('directives beside @rest reach the supergraph from a REST adapter’s SDL', () => {
    const at = authDirectives(snapshot.supergraph.sdl);
    assert.deepEqual(at('User.email'), ['@requiresScopes(scopes: [["users:email"]])']);
    assert.deepEqual(at('Query.user'), ['@authenticated']);
  });

  test('an overlay annotates generated gRPC fields and types, and they reach the supergraph', () => {
    const at = authDirectives(snapshot.supergraph.sdl);
    assert.deepEqual(at('Mutation.createOrder'), ['@authenticated']);
    assert.deepEqual(at('Order.createdAt'), ['@requiresScopes(scopes: [["orders:audit"]])']);
    assert.deepEqual(at('ListOrdersByUserResponse'), ['@authenticated']);
    // An annotation adds no second field, and its description goes onto the generated one.
    const orders = snapshot.adapters.get('orders')!.sdl;
    assert.equal(orders.match(/createOrder/g)?.length, 1);
    assert.match(orders, /"When the order was placed."\n {2}createdAt: DateTime @requiresScopes/);
  });

  test('the model reads every requirement, with type-level ones folded into fields', () => {
    const { model, warnings } = buildAuthModel(snapshot.supergraph.sdl, new Map());
    const of = (coordinate: string) => model.fields.get(coordinate);
    assert.deepEqual(of('Product.cost')?.scopes, [[['admin', 'finance'], ['costs:read']]]);
    assert.deepEqual(of('Product.code')?.scopes, [[['secrets:read']]]);
    assert.equal(of('Product.tier')?.authenticated, true);
    assert.deepEqual(of('Query.account')?.policies, [[['staff']]]);
    assert.deepEqual(of('Account.note')?.policies, [[['staff']]]);
    assert.equal(of('Mutation.createOrder')?.authenticated, true);
    assert.equal(of('Query.listOrdersByUser')?.authenticated, true);
    assert.equal(of('Product.name'), undefined);
    assert.deepEqual(warnings, [
      '@policy "staff" (on Account) names no policy rule: what needs it is denied to every caller',
    ]);
  });

  test('Apollo Gateway refuses the supergraph as composed, and loads the one it is handed', async () => {
    const refused = createOfflineGateway({ supergraphSdl: snapshot.supergraph.sdl });
    await assert.rejects(
      refused.load(),
      /feature https:\/\/specs.apollo.dev\/authenticated\/v0.1 is for: SECURITY but is unsupported/,
    );
    const gateway = createOfflineGateway({ supergraphSdl: snapshot.gatewaySdl });
    try {
      const { schema } = await gateway.load();
      // What clients see has neither the directives nor their definitions.
      const api = printSchema(schema);
      assert.doesNotMatch(api, /@authenticated|@requiresScopes|@policy/);
      assert.match(api, /email: String\n/);
    } finally {
      await gateway.stop();
    }
  });
});
