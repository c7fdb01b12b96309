import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGrpcAdapter } from '../../../src/adapters/grpc/executor.ts';
import { Agent } from 'undici';
import { createOutbound } from '../../../src/policies/traffic/chain.ts';
import { GrpcChannels } from '../../../src/adapters/grpc/channels.ts';
import { loadProtos, protosToSdl } from '../../../src/adapters/grpc/proto-schema.ts';
import { MAPPING_PROTOS } from '../../fixtures/protos/mapping-server.ts';
import { ConfigError } from '../../../src/config/errors.ts';

const sdl = () => protosToSdl(loadProtos(['mapping/v1/mapping.proto'], [MAPPING_PROTOS])).sdl;

/** The type mapping table, one row per kind of proto field: proto field -> GraphQL field. */
const FIELDS: [string, string][] = [
  ['double a_double', 'aDouble: Float!'],
  ['float a_float', 'aFloat: Float!'],
  ['int32 an_int32', 'anInt32: Int!'],
  ['int64 an_int64', 'anInt64: Int64!'],
  ['uint32 a_uint32', 'aUint32: Float!'],
  ['uint64 a_uint64', 'aUint64: Int64!'],
  ['sint32 a_sint32', 'aSint32: Int!'],
  ['sint64 a_sint64', 'aSint64: Int64!'],
  ['fixed32 a_fixed32', 'aFixed32: Float!'],
  ['fixed64 a_fixed64', 'aFixed64: Int64!'],
  ['sfixed32 an_sfixed32', 'anSfixed32: Int!'],
  ['sfixed64 an_sfixed64', 'anSfixed64: Int64!'],
  ['bool a_bool', 'aBool: Boolean!'],
  ['string a_string', 'aString: String!'],
  ['bytes some_bytes', 'someBytes: Base64!'],
  ['Color color (enum)', 'color: Color!'],
  ['Inner inner (message)', 'inner: Inner'],
  ['repeated Inner inners', 'inners: [Inner!]!'],
  ['repeated string tags', 'tags: [String!]!'],
  ['map<string, int32> scores', 'scores: [EverythingScoresEntry!]!'],
  ['oneof choice { string choice_text }', 'choiceText: String'],
  ['oneof choice { int32 choice_number }', 'choiceNumber: Int'],
  ['optional string maybe', 'maybe: String'],
  ['google.protobuf.Timestamp at', 'at: DateTime'],
  ['google.protobuf.Duration took', 'took: Duration'],
  ['google.protobuf.Int64Value wrapped_int64', 'wrappedInt64: Int64'],
  ['google.protobuf.StringValue wrapped_string', 'wrappedString: String'],
  ['google.protobuf.Struct attributes', 'attributes: JSON'],
  ['google.protobuf.Value anything', 'anything: JSON'],
];
for (const [proto, graphql] of FIELDS) {
  test(`proto ${proto} maps to ${graphql}`, () => {
    const everything = /type Everything \{\n([^}]*)\}/.exec(sdl())?.[1] ?? '';
    assert.ok(
      everything
        .split('\n')
        .map((l) => l.trim())
        .includes(graphql),
      everything,
    );
  });
}

test('methods become Query or Mutation fields with optional arguments', () => {
  const out = sdl();
  assert.match(
    out,
    /type Query \{\n {2}getNothing: Boolean\n {2}listNumbers\(count: Int\): \[Number!\]\n\}/,
  );
  assert.match(
    out,
    /type Mutation \{\n {2}echo\(aDouble: Float, [^)]*scores: \[EverythingScoresEntryInput!\][^)]*\): Everything\n {2}fail\(code: Int\): Everything\n {2}slow\(millis: Int\): Everything\n\}/,
  );
  assert.match(out, /type EverythingScoresEntry \{\n {2}key: String!\n {2}value: Int!\n\}/);
  assert.match(out, /enum Color \{\n {2}UNSPECIFIED\n {2}RED\n {2}GREEN\n\}/);
  assert.match(out, /scalar Int64\n/);
});

async function adapterFor(
  protoText: string,
  extra: Record<string, unknown> = {},
  overlay?: string,
) {
  const dir = await mkdtemp(join(tmpdir(), 'protos-'));
  await mkdir(join(dir, 'x'));
  await writeFile(join(dir, 'x', 'svc.proto'), protoText);
  const channels = new GrpcChannels();
  try {
    return createGrpcAdapter({
      name: 'svc',
      source: {
        kind: 'grpc',
        address: '127.0.0.1:1',
        protos: ['x/svc.proto'],
        include_dirs: [dir],
        timeout: 1000,
        methods: {},
        max_stream_messages: 10,
        headers: {},
        forward_headers: [],
        ...extra,
      },
      files: [join(dir, 'x', 'svc.proto')],
      includeDirs: [dir],
      configFile: '/srv/supergraph.yaml',
      ...(overlay ? { overlay: { sdl: overlay, file: '/srv/schemas/svc.graphql' } } : {}),
      outbound: createOutbound({ dispatcher: new Agent(), channels }),
      channels,
    });
  } finally {
    channels.close();
  }
}

test('a proto that does not parse is a config error naming the file and line', async () => {
  await assert.rejects(
    adapterFor('syntax = "proto3";\nmessage A {\n  string x = 1\n}\n'),
    (error: ConfigError) => {
      assert.ok(error instanceof ConfigError);
      assert.match(
        error.message,
        /subgraphs\.svc\.source\.protos: .*svc\.proto:4: illegal token '\}', ';' expected/,
      );
      return true;
    },
  );
});

/**
 * Unknown types, one row per place a type is named: protobufjs says only "no such type" and the
 * message; the error must give file:line:column of the declaration and what declares it. The
 * row's proto is written line by line so the expected line is visible in it.
 */
const UNKNOWN_TYPES: [string, string, RegExp][] = [
  [
    'a message field',
    'syntax = "proto3";\nmessage A {\n  string x = 1;\n  Foo bar = 2;\n}\n',
    /svc\.proto:4:3: unknown type "Foo" \(field A\.bar\)/,
  ],
  [
    'a map value',
    'syntax = "proto3";\nmessage A {\n  map<string, Baz> by_id = 1;\n}\n',
    /svc\.proto:3:15: unknown type "Baz" \(field A\.byId\)/,
  ],
  [
    'a field whose declaration a comment above its message repeats',
    'syntax = "proto3";\n// Foo bar = 1; until v2\nmessage B {\n  Foo bar = 1;\n}\n',
    /svc\.proto:4:3: unknown type "Foo" \(field B\.bar\)/,
  ],
  [
    'a method request',
    'syntax = "proto3";\nmessage M {}\nservice S {\n  rpc Get(Nope) returns (M);\n}\n',
    /svc\.proto:4:3: unknown type "Nope" \(method S\.Get\)/,
  ],
];

for (const [where, proto, expected] of UNKNOWN_TYPES) {
  test(`an unknown type in ${where} is a config error at its file, line and column`, async () => {
    await assert.rejects(adapterFor(proto), (error: ConfigError) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /subgraphs\.svc\.source\.protos: /);
      assert.match(error.message, expected);
      return true;
    });
  });
}

test('a missing import is a config error naming the import and the file that wants it', async () => {
  await assert.rejects(
    adapterFor('syntax = "proto3";\nimport "nope/missing.proto";\n'),
    /cannot find import "nope\/missing\.proto" \(from .*svc\.proto\)/,
  );
});

test('a method named in config that does not exist is a config error naming it', async () => {
  const proto =
    'syntax = "proto3";\nservice S { rpc Get(M) returns (M); }\nmessage M { string x = 1; }\n';
  await assert.rejects(
    adapterFor(proto, { methods: { Gte: 'query' } }),
    /subgraphs\.svc\.source\.methods\.Gte: no method Gte in x\/svc\.proto \(methods: Get\)/,
  );
});

const SERVICE =
  'syntax = "proto3";\nservice S { rpc BatchGet(Ids) returns (Items); }\nmessage Ids { repeated string ids = 1; }\nmessage Items { repeated Item items = 1; }\nmessage Item { string id = 1; string owner_id = 2; }\n';
const overlayCases: [string, string, RegExp][] = [
  [
    'an unknown method',
    'extend type Item @key(fields: "id") @grpcEntity(method: "Batch", request: { ids: "{keys.id}" })',
    /svc\.graphql:1:\d+: Item: no method Batch in the protos \(methods: BatchGet\)/,
  ],
  [
    'an unknown request field',
    'extend type Item @key(fields: "id") @grpcEntity(method: "BatchGet", request: { idz: "{keys.id}" })',
    /BatchGet requests have no field "idz" \(fields: ids\)/,
  ],
  [
    'a non-key placeholder',
    'extend type Item @key(fields: "id") @grpcEntity(method: "BatchGet", request: { ids: "{keys.ownerId}" })',
    /\{keys\.ownerId\}: "ownerId" is not a key field of Item/,
  ],
  [
    'a maxBatch of 0',
    'extend type Item @key(fields: "id") @grpcEntity(method: "BatchGet", request: { ids: "{keys.id}" }, maxBatch: 0)',
    /svc\.graphql:1:\d+: Item: maxBatch expects a positive integer/,
  ],
  [
    'an argument @grpcEntity does not take',
    'extend type Item @key(fields: "id") @grpcEntity(method: "BatchGet", request: { ids: "{keys.id}" }, batch: 5)',
    /Item: @grpcEntity has no argument "batch"/,
  ],
  [
    'an unknown parent field',
    'extend type Item { owner: Owner @grpcReference(key: { id: "{parent.ownr}" }) }\ntype Owner @key(fields: "id", resolvable: false) { id: ID! }',
    /\{parent\.ownr\}: type Item has no field "ownr"/,
  ],
  [
    'an annotation that changes a generated field’s type',
    'extend type Item { id: ID @authenticated }',
    /svc\.graphql:1:24: Item\.id: Item\.id is generated from the protos as String!; an annotation keeps that type/,
  ],
  [
    'an annotation with other arguments than the generated ones',
    'extend type Query { batchGet(ids: [ID!]): Items @authenticated }',
    /Query\.batchGet is generated with the arguments \(ids: \[String!\]\); leave them out or write them as generated/,
  ],
  [
    '@grpcReference on a generated field',
    'extend type Item { ownerId: String! @grpcReference(key: { id: "{parent.id}" }) }',
    /@grpcReference does not apply to Item\.ownerId: a generated field already calls its method/,
  ],
];
for (const [name, overlay, message] of overlayCases) {
  test(`an overlay with ${name} is a config error with the overlay's file and line`, async () => {
    await assert.rejects(adapterFor(SERVICE, {}, overlay), message);
  });
}

test('an overlay annotates a generated field: its directives and description, no second field', async () => {
  const adapter = await adapterFor(
    SERVICE,
    {},
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key", "@authenticated", "@requiresScopes"])\n' +
      'extend type Query { "Items by id." batchGet: Items @authenticated }\n' +
      'extend type Item { ownerId: String! @requiresScopes(scopes: [["owners"]]) }',
  );
  assert.match(
    adapter.sdl,
    /type Query \{\n {2}"Items by id\."\n {2}batchGet\(ids: \[String!\]\): Items @authenticated\n\}/,
  );
  assert.match(adapter.sdl, /ownerId: String! @requiresScopes\(scopes: \[\["owners"\]\]\)/);
  assert.doesNotMatch(adapter.sdl, /extend type (Query|Item)/);
});

test('protos importing google/api/annotations.proto load without a network fetch', () => {
  const loaded = loadProtos(['annotated/v1/annotated.proto'], [MAPPING_PROTOS]);
  const method = loaded.services[0]!.methodsArray[0]!;
  assert.equal(method.name, 'GetBook');
  assert.deepEqual(
    method.parsedOptions?.[0]?.['(google.api.http)']?.get,
    '/v1/{name=shelves/*/books/*}',
  );
  assert.match(protosToSdl(loaded).sdl, /getBook\(name: String\): Book/);
});
