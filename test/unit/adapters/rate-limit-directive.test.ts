import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { parse, print, Source } from 'graphql';
import { Agent } from 'undici';
import { GrpcChannels } from '../../../src/adapters/grpc/channels.ts';
import { createGrpcAdapter } from '../../../src/adapters/grpc/executor.ts';
import { BUILTIN_PROTOS } from '../../../src/adapters/grpc/proto-schema.ts';
import { readRestMapping } from '../../../src/adapters/rest/directives.ts';
import { ConfigError } from '../../../src/config/errors.ts';
import { createOutbound } from '../../../src/policies/traffic/chain.ts';
import { ORDERS_PROTO, PROTOS_DIR } from '../../../demo/backends/orders-grpc.ts';

const HEAD =
  'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])\n';
const read = (sdl: string) =>
  readRestMapping(parse(new Source(HEAD + sdl, 'schemas/users.graphql')), 'schemas/users.graphql');

/** Every issue's first line, for an SDL that must be refused. */
function refusal(read: () => unknown): string[] {
  try {
    read();
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message.split('\n').filter((line) => line.startsWith('schemas/'));
  }
  assert.fail('the SDL was accepted');
}

const field = (directive: string) =>
  `type Query { a(id: ID!, input: In): String @rest(get: "/a") ${directive} }\ninput In { key: String }`;

const cases: [string, string, string][] = [
  [
    'a window that is not a duration',
    field('@rateLimit(window: "1 minute", max: 2)'),
    'schemas/users.graphql:2:80: Query.a: @rateLimit needs window: a duration such as "30s", "1m" or "1h", longer than 0',
  ],
  [
    'a window of 0',
    field('@rateLimit(window: "0s", max: 2)'),
    'schemas/users.graphql:2:80: Query.a: @rateLimit needs window: a duration such as "30s", "1m" or "1h", longer than 0',
  ],
  [
    'no window',
    field('@rateLimit(max: 2)'),
    'schemas/users.graphql:2:61: Query.a: @rateLimit needs window: a duration such as "30s", "1m" or "1h"',
  ],
  [
    'a max of 0',
    field('@rateLimit(window: "1m", max: 0)'),
    'schemas/users.graphql:2:91: Query.a: @rateLimit needs max: a whole number of at least 1',
  ],
  [
    'a max that is a string',
    field('@rateLimit(window: "1m", max: "2")'),
    'schemas/users.graphql:2:91: Query.a: @rateLimit needs max: a whole number of at least 1',
  ],
  [
    'an identityArgs naming no argument',
    field('@rateLimit(window: "1m", max: 2, identityArgs: ["idd"])'),
    'schemas/users.graphql:2:109: Query.a: identityArgs: Query.a has no argument "idd" (it has id, input)',
  ],
  [
    'an argument graphql-rate-limit has and the gateway does not take',
    field('@rateLimit(window: "1m", max: 2, arrayLengthField: "ids")'),
    'schemas/users.graphql:2:94: Query.a: @rateLimit has no argument "arrayLengthField"; it takes window, max, identityArgs',
  ],
  [
    'a type',
    'type Query @rateLimit(window: "1m", max: 2) { a: String @rest(get: "/a") }',
    'schemas/users.graphql:2:12: Query: @rateLimit belongs on a field, not a type',
  ],
];
for (const [name, sdl, message] of cases) {
  test(`@rateLimit with ${name} is refused with the SDL file, line and column`, () => {
    assert.deepEqual(
      refusal(() => read(sdl)),
      [message],
    );
  });
}

test('@rateLimit is read by coordinate and stripped from what composition sees', () => {
  const mapping = read(
    field('@rateLimit(window: "1.5m", max: 2, identityArgs: ["id", "input.key"])'),
  );
  assert.deepEqual(Object.fromEntries(mapping.limits), {
    'Query.a': { window: '1.5m', windowMs: 90_000, max: 2, identityArgs: ['id', 'input.key'] },
  });
  assert.doesNotMatch(print(mapping.document), /rateLimit/);
});

/** The demo's orders service with an overlay. */
function ordersAdapter(overlay: string) {
  const channels = new GrpcChannels();
  try {
    return createGrpcAdapter({
      name: 'orders',
      source: {
        kind: 'grpc',
        address: '127.0.0.1:1',
        protos: [ORDERS_PROTO],
        include_dirs: [PROTOS_DIR],
        timeout: 1000,
        methods: {},
        max_stream_messages: 10,
        headers: {},
        forward_headers: [],
      },
      files: [join(PROTOS_DIR, ORDERS_PROTO)],
      includeDirs: [PROTOS_DIR, BUILTIN_PROTOS],
      configFile: '/srv/supergraph.yaml',
      overlay: { sdl: overlay, file: 'schemas/orders.graphql' },
      outbound: createOutbound({ dispatcher: new Agent(), channels }),
      channels,
    });
  } finally {
    channels.close();
  }
}

test('a gRPC overlay limits a generated field through an annotation, and its own fields', () => {
  const adapter =
    ordersAdapter(`extend type Query { getOrder: Order @rateLimit(window: "10s", max: 3, identityArgs: ["id"]) }
type User @key(fields: "id") {
  id: ID!
  orders: [Order!]! @grpc(method: "ListOrdersByUser", request: { userId: "{parent.id}" }, select: "orders") @rateLimit(window: "1m", max: 5)
}`);
  assert.deepEqual(Object.fromEntries(adapter.fieldLimits), {
    'Query.getOrder': { window: '10s', windowMs: 10_000, max: 3, identityArgs: ['id'] },
    'User.orders': { window: '1m', windowMs: 60_000, max: 5, identityArgs: [] },
  });
  assert.doesNotMatch(print(adapter.document), /rateLimit/);
});

test('a gRPC overlay’s @rateLimit errors name the overlay file and line', () => {
  assert.deepEqual(
    refusal(() =>
      ordersAdapter(
        'extend type Query {\n  getOrder: Order @rateLimit(window: "soon", max: -1, identityArgs: ["nope"])\n}',
      ),
    ),
    [
      'schemas/orders.graphql:2:38: Query.getOrder: @rateLimit needs window: a duration such as "30s", "1m" or "1h", longer than 0',
      'schemas/orders.graphql:2:51: Query.getOrder: @rateLimit needs max: a whole number of at least 1',
      'schemas/orders.graphql:2:70: Query.getOrder: identityArgs: Query.getOrder has no argument "nope" (it has id)',
    ],
  );
});
