import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  GraphQLError,
  Kind,
  parse,
  parseValue,
  specifiedScalarTypes,
  type ObjectTypeDefinitionNode,
  type TypeNode,
} from 'graphql';
import { loadProtos, protosToSdl } from '../../../src/adapters/grpc/proto-schema.ts';
import { JsonMappingError } from '../../../src/adapters/grpc/proto-json.ts';
import { GRPC_SCALARS } from '../../../src/adapters/grpc/scalars.ts';
import { graphQLToMessage, messageToGraphQL } from '../../../src/adapters/grpc/values.ts';
import { GatewayError } from '../../../src/kernel/errors.ts';
import { parseTemplate, type HttpBinding } from '../../../src/translate/http-rule.ts';
import { buildRequestMessage } from '../../../src/translate/transcode-request.ts';
import { responseJson } from '../../../src/translate/transcode-response.ts';

/**
 * One value mapping: the same proto, loaded as the gRPC adapter loads it and as the transcoder
 * does, must give each value the same JSON in a GraphQL answer as in a transcoded REST answer,
 * and must read the same JSON into the same bytes
 * (https://protobuf.dev/programming-guides/json/).
 */

type Obj = Record<string, unknown>;

const PROTOS = join(import.meta.dirname, '../../fixtures/protos');
const FILE = 'agreement/v1/agreement.proto';

const adapterProtos = loadProtos([FILE], [PROTOS]);
const adapterType = adapterProtos.root.lookupType('agreement.v1.Everything');
const transcoderProtos = loadProtos([FILE], [PROTOS], true);
const transcoderType = transcoderProtos.root.lookupType('agreement.v1.Everything');
/** A body of the whole message, as `body: "*"` and unannotated methods take it. */
const binding: HttpBinding = { httpMethod: 'POST', template: parseTemplate('/v1/echo'), body: '*' };

/** The generated GraphQL type of each field of Everything, as the adapter's schema has it. */
const everything = parse(protosToSdl(adapterProtos).sdl).definitions.find(
  (d) => d.kind === Kind.OBJECT_TYPE_DEFINITION && d.name.value === 'Everything',
) as ObjectTypeDefinitionNode;
const graphQLTypes = new Map(everything.fields!.map((f) => [f.name.value, f.type]));
const SCALARS = new Map(
  [...specifiedScalarTypes, ...Object.values(GRPC_SCALARS)].map((s) => [s.name, s]),
);

/**
 * A value through a field's GraphQL type: `serialize` is how GraphQL writes a resolver's value,
 * `parseValue` how it hands a variable to the resolver. Enums and objects pass as they are.
 */
function throughType(type: TypeNode, value: unknown, way: 'serialize' | 'parseValue'): unknown {
  if (value === null || value === undefined) return null;
  if (type.kind === Kind.NON_NULL_TYPE) return throughType(type.type, value, way);
  if (type.kind === Kind.LIST_TYPE)
    return (value as unknown[]).map((item) => throughType(type.type, item, way));
  const scalar = SCALARS.get(type.name.value);
  return scalar ? scalar[way](value) : value;
}

function typeOf(key: string): TypeNode {
  const type = graphQLTypes.get(key);
  assert.ok(type, `Everything has no GraphQL field ${key}`);
  return type;
}

/** A JSON body read by the transcoder, as the message bytes the backend gets. */
function transcodedRequest(body: Obj): Uint8Array {
  const object = buildRequestMessage(transcoderType, binding, {
    pathValues: new Map(),
    query: new URLSearchParams(),
    body,
    ignoreUnknownQuery: false,
  });
  return transcoderType.encode(transcoderType.fromObject(object)).finish();
}

/** GraphQL arguments read by the adapter, as the message bytes the backend gets. */
function adapterRequest(args: Obj): Uint8Array {
  const parsed = Object.fromEntries(
    Object.entries(args).map(([key, value]) => [
      key,
      throughType(typeOf(key), value, 'parseValue'),
    ]),
  );
  return adapterType.encode(adapterType.fromObject(graphQLToMessage(adapterType, parsed))).finish();
}

/** The backend's reply bytes as transcoded JSON (emit_defaults, as the adapter always does). */
function transcodedReply(bytes: Uint8Array): Obj {
  const message = transcoderType.decode(bytes) as unknown as Obj;
  return responseJson(transcoderType, message, binding.responseBody, { emitDefaults: true }) as Obj;
}

/** The backend's reply bytes as the adapter's field value, serialised by the GraphQL type. */
function adapterReply(bytes: Uint8Array, key: string): unknown {
  const message = adapterType.decode(bytes) as unknown as Obj;
  return throughType(typeOf(key), messageToGraphQL(adapterType, message)[key], 'serialize');
}

interface Row {
  /** The field: its JSON name is its name in the adapter's schema too. */
  key: string;
  /** What a client sends, in a transcoded body or (unless `graphql.input`) as a variable. */
  json: unknown;
  /** What both answer with. */
  canonical: unknown;
  /** Where GraphQL spells the value differently: maps as entries, enums by name only. */
  graphql?: { input?: unknown; output?: unknown };
}

/** A map as GraphQL spells it both ways: a list of `{ key, value }` entries, keys typed. */
function entries(list: { key: unknown; value: unknown }[]): Row['graphql'] {
  return { input: list, output: list };
}

const MAX_INT64 = '9223372036854775807';
const MIN_INT64 = '-9223372036854775808';
const MAX_UINT64 = '18446744073709551615';

const ROWS: Row[] = [
  // Timestamp: any offset in, Z out, 0/3/6/9 fraction digits.
  { key: 'at', json: '1972-01-01T10:00:20.021Z', canonical: '1972-01-01T10:00:20.021Z' },
  { key: 'at', json: '1972-01-01T11:00:20.021+01:00', canonical: '1972-01-01T10:00:20.021Z' },
  { key: 'at', json: '1972-01-01T04:30:20.021-05:30', canonical: '1972-01-01T10:00:20.021Z' },
  {
    key: 'at',
    json: '2026-11-25T10:15:30.123456789Z',
    canonical: '2026-11-25T10:15:30.123456789Z',
  },
  { key: 'at', json: '2026-11-25T10:15:30.1234Z', canonical: '2026-11-25T10:15:30.123400Z' },
  { key: 'at', json: '2026-11-25T10:15:30.1Z', canonical: '2026-11-25T10:15:30.100Z' },
  { key: 'at', json: '2026-11-25T10:15:30.000Z', canonical: '2026-11-25T10:15:30Z' },
  { key: 'at', json: '1969-12-31T23:59:59.5Z', canonical: '1969-12-31T23:59:59.500Z' },
  { key: 'at', json: '2026-01-01T00:30:00+01:00', canonical: '2025-12-31T23:30:00Z' },
  { key: 'at', json: '0001-01-01T00:00:00Z', canonical: '0001-01-01T00:00:00Z' },
  {
    key: 'at',
    json: '9999-12-31T23:59:59.999999999Z',
    canonical: '9999-12-31T23:59:59.999999999Z',
  },
  {
    key: 'times',
    json: ['1970-01-01T00:00:00Z', '2000-02-29T12:00:00.1+00:00'],
    canonical: ['1970-01-01T00:00:00Z', '2000-02-29T12:00:00.100Z'],
  },
  // Duration: the sign once, on the whole; 0/3/6/9 fraction digits.
  { key: 'took', json: '1.5s', canonical: '1.500s' },
  { key: 'took', json: '-1.5s', canonical: '-1.500s' },
  { key: 'took', json: '-0.5s', canonical: '-0.500s' },
  { key: 'took', json: '-3s', canonical: '-3s' },
  { key: 'took', json: '0.000000001s', canonical: '0.000000001s' },
  { key: 'took', json: '1.000340012s', canonical: '1.000340012s' },
  { key: 'took', json: '-1.000001s', canonical: '-1.000001s' },
  { key: 'took', json: '315576000000s', canonical: '315576000000s' },
  // 64-bit integers: decimal strings, numbers and exponents accepted.
  { key: 'anInt64', json: MAX_INT64, canonical: MAX_INT64 },
  { key: 'anInt64', json: MIN_INT64, canonical: MIN_INT64 },
  { key: 'anInt64', json: 42, canonical: '42' },
  { key: 'anInt64', json: '1e3', canonical: '1000' },
  { key: 'anInt64', json: '0', canonical: '0' },
  { key: 'aUint64', json: MAX_UINT64, canonical: MAX_UINT64 },
  { key: 'aSint64', json: MIN_INT64, canonical: MIN_INT64 },
  { key: 'aFixed64', json: MAX_UINT64, canonical: MAX_UINT64 },
  { key: 'counts', json: ['1', '9007199254740993'], canonical: ['1', '9007199254740993'] },
  { key: 'wrappedInt64', json: MIN_INT64, canonical: MIN_INT64 },
  { key: 'wrappedInt64', json: 5, canonical: '5' },
  // Other numbers.
  { key: 'anInt32', json: -2147483648, canonical: -2147483648 },
  { key: 'aUint32', json: 4294967295, canonical: 4294967295 },
  { key: 'wrappedUint32', json: 4294967295, canonical: 4294967295 },
  { key: 'aDouble', json: -2.5e-300, canonical: -2.5e-300 },
  { key: 'wrappedDouble', json: 2.5, canonical: 2.5 },
  { key: 'aFloat', json: 0.1, canonical: 0.1 },
  // Bytes: either alphabet, padded or not, in; standard and padded out.
  { key: 'someBytes', json: 'AAH/+w==', canonical: 'AAH/+w==' },
  { key: 'someBytes', json: 'AAH_-w', canonical: 'AAH/+w==' },
  { key: 'someBytes', json: '+/8', canonical: '+/8=' },
  { key: 'someBytes', json: '', canonical: '' },
  { key: 'wrappedBytes', json: '-_8', canonical: '+/8=' },
  // Enums: by name out; by name or number in (GraphQL's enums take names only).
  { key: 'color', json: 'COLOR_GREEN', canonical: 'COLOR_GREEN' },
  { key: 'color', json: 2, canonical: 'COLOR_GREEN', graphql: { input: 'COLOR_GREEN' } },
  {
    key: 'colors',
    json: ['COLOR_RED', 2],
    canonical: ['COLOR_RED', 'COLOR_GREEN'],
    graphql: { input: ['COLOR_RED', 'COLOR_GREEN'] },
  },
  { key: 'color', json: 'COLOR_UNSPECIFIED', canonical: 'COLOR_UNSPECIFIED' },
  // Struct, Value, ListValue: JSON as it is, nested lists and nulls included.
  {
    key: 'attributes',
    json: { n: 1, s: 'x', t: true, z: null, l: [1, 'two', null, [], {}], o: { d: { e: [false] } } },
    canonical: {
      n: 1,
      s: 'x',
      t: true,
      z: null,
      l: [1, 'two', null, [], {}],
      o: { d: { e: [false] } },
    },
  },
  { key: 'attributes', json: {}, canonical: {} },
  { key: 'anything', json: null, canonical: null },
  { key: 'anything', json: -1.5, canonical: -1.5 },
  { key: 'anything', json: '', canonical: '' },
  { key: 'anything', json: [null, { a: [] }], canonical: [null, { a: [] }] },
  { key: 'list', json: [1, null, { k: 'v' }], canonical: [1, null, { k: 'v' }] },
  // Wrappers: the bare value, defaults included once set.
  { key: 'wrappedBool', json: false, canonical: false },
  { key: 'wrappedString', json: '', canonical: '' },
  // FieldMask: one string of lowerCamelCase paths.
  { key: 'mask', json: 'user.displayName,photo', canonical: 'user.displayName,photo' },
  { key: 'mask', json: '', canonical: '' },
  // Any: the packed message's JSON beside "@type", a well-known type's under "value".
  {
    key: 'detail',
    json: { '@type': 'type.googleapis.com/agreement.v1.Inner', label: 'x', count: 5 },
    canonical: { '@type': 'type.googleapis.com/agreement.v1.Inner', label: 'x', count: '5' },
  },
  {
    key: 'detail',
    json: {
      '@type': 'type.googleapis.com/google.protobuf.Timestamp',
      value: '1972-01-01T11:00:20+01:00',
    },
    canonical: {
      '@type': 'type.googleapis.com/google.protobuf.Timestamp',
      value: '1972-01-01T10:00:20Z',
    },
  },
  // Maps: JSON objects with string keys; GraphQL lists of entries with typed keys.
  {
    key: 'scores',
    json: { ada: 3, bob: 0 },
    canonical: { ada: 3, bob: 0 },
    graphql: entries([
      { key: 'ada', value: 3 },
      { key: 'bob', value: 0 },
    ]),
  },
  {
    key: 'byId',
    json: { [MIN_INT64]: 'min', [MAX_INT64]: 'max' },
    canonical: { [MIN_INT64]: 'min', [MAX_INT64]: 'max' },
    graphql: entries([
      { key: MIN_INT64, value: 'min' },
      { key: MAX_INT64, value: 'max' },
    ]),
  },
  {
    key: 'byFlag',
    json: { true: 'yes', false: 'no' },
    canonical: { true: 'yes', false: 'no' },
    graphql: entries([
      { key: true, value: 'yes' },
      { key: false, value: 'no' },
    ]),
  },
  {
    key: 'byLine',
    json: { '-7': { label: 'x', count: '1' } },
    canonical: { '-7': { label: 'x', count: '1' } },
    graphql: entries([{ key: -7, value: { label: 'x', count: '1' } }]),
  },
  // Oneof members and optional fields: set to a default, still written.
  { key: 'choiceNumber', json: 0, canonical: 0 },
  { key: 'choiceText', json: '', canonical: '' },
  { key: 'maybe', json: 0, canonical: 0 },
  // A set message with default fields: every field written.
  { key: 'inner', json: {}, canonical: { label: '', count: '0' } },
];

for (const { key, json, canonical, graphql } of ROWS) {
  test(`${key} ${JSON.stringify(json)} reads alike and writes as ${JSON.stringify(canonical)} in both`, () => {
    const bytes = transcodedRequest({ [key]: json });
    assert.deepEqual(
      Buffer.from(adapterRequest({ [key]: graphql?.input ?? json })),
      Buffer.from(bytes),
      'the adapter and the transcoder read the value into the same message',
    );
    assert.deepEqual(transcodedReply(bytes)[key], canonical);
    assert.deepEqual(adapterReply(bytes, key), graphql?.output ?? canonical);
  });
}

test('unset messages, oneof members and optional fields are absent in JSON and null in GraphQL', () => {
  const bytes = transcodedRequest({});
  const json = transcodedReply(bytes);
  const messages = ['at', 'took', 'attributes', 'anything', 'wrappedInt64', 'detail', 'inner'];
  for (const key of [...messages, 'choiceText', 'choiceNumber', 'maybe']) {
    assert.equal(json[key], undefined, key);
    assert.equal(adapterReply(bytes, key), null, key);
  }
});

/** [field, value]: ProtoJSON writes these as strings; GraphQL's Float cannot hold them. */
const NOT_FINITE: [string, string][] = [
  ['aDouble', 'NaN'],
  ['aDouble', 'Infinity'],
  ['aFloat', '-Infinity'],
  ['wrappedDouble', 'NaN'],
];
for (const [key, value] of NOT_FINITE) {
  test(`${key} ${value} is the string "${value}" in both mappings, which GraphQL's Float refuses`, () => {
    const bytes = transcodedRequest({ [key]: value });
    const message = adapterType.decode(bytes) as unknown as Obj;
    assert.equal(transcodedReply(bytes)[key], value);
    assert.equal(messageToGraphQL(adapterType, message)[key], value);
    assert.throws(() => adapterReply(bytes, key), GraphQLError);
  });
}

test('an enum number no name stands for is the number in both mappings', () => {
  const bytes = adapterType.encode(adapterType.fromObject({ color: 7, colors: [1, 9] })).finish();
  const message = adapterType.decode(bytes) as unknown as Obj;
  const graphql = messageToGraphQL(adapterType, message);
  const json = transcodedReply(bytes);
  assert.deepEqual([json.color, json.colors], [7, ['COLOR_RED', 9]]);
  assert.deepEqual([graphql.color, graphql.colors], [7, ['COLOR_RED', 9]]);
});

/** [arguments, the field at fault, the reason]: refused alike, before any call. */
const REFUSED: [Obj, string, string][] = [
  [{ aUint64: '-1' }, 'aUint64', 'expected an unsigned 64-bit integer, got "-1"'],
  [{ anInt64: MAX_UINT64 }, 'anInt64', `expected a 64-bit integer, got "${MAX_UINT64}"`],
  [{ aUint32: -1 }, 'aUint32', 'expected an unsigned 32-bit integer, got -1'],
  [{ aUint32: 1.5 }, 'aUint32', 'expected an unsigned 32-bit integer, got 1.5'],
  [{ aFloat: 1e39 }, 'aFloat', 'expected a number in the range of a float, got 1e+39'],
  [
    { choiceText: 'a', choiceNumber: 1 },
    'choiceNumber',
    'conflicts with "choiceText" in oneof "choice"',
  ],
  [{ attributes: [1] }, 'attributes', 'expected a JSON object, got an array'],
  [{ list: { a: 1 } }, 'list', 'expected a JSON array, got an object'],
  [{ mask: 'a_b' }, 'mask', 'expected comma-separated lowerCamelCase field paths, got "a_b"'],
  [
    { detail: { '@type': 'type.googleapis.com/nowhere.Thing' } },
    'detail.@type',
    'no loaded proto defines "type.googleapis.com/nowhere.Thing"',
  ],
];
for (const [args, field, reason] of REFUSED) {
  test(`${JSON.stringify(args)} is refused by both at ${field}: ${reason}`, () => {
    assert.throws(
      () => transcodedRequest(args),
      (error: unknown) => error instanceof JsonMappingError && error.field === field,
    );
    assert.throws(
      () => adapterRequest(args),
      (error: unknown) =>
        error instanceof GatewayError &&
        error.code === 'BAD_USER_INPUT' &&
        error.message === `${field}: ${reason}` &&
        error.extensions.field === field,
    );
  });
}

/** [scalar field, value]: the scalar refuses what the transcoder refuses, with its reason. */
const SCALAR_REFUSALS: [string, unknown, string][] = [
  ['at', '1972-02-30T00:00:00Z', 'an RFC 3339 timestamp such as "1972-01-01T10:00:20.021Z"'],
  ['at', '1972-01-01T10:00:20', 'an RFC 3339 timestamp such as "1972-01-01T10:00:20.021Z"'],
  ['at', '0000-12-31T00:00:00Z', 'a timestamp in the years 0001 to 9999'],
  ['took', '1.5', 'a duration such as "1.5s"'],
  ['took', '315576000001s', 'a duration within 10000 years'],
  ['anInt64', '12x', 'a 64-bit integer'],
  ['anInt64', 1.5, 'a 64-bit integer'],
  ['someBytes', '+_8=', 'base64'],
  ['someBytes', 'AA=', 'base64'],
];
for (const [key, value, expected] of SCALAR_REFUSALS) {
  test(`${key} ${JSON.stringify(value)} is refused by the transcoder and by its GraphQL scalar`, () => {
    const got = `expected ${expected}, got ${JSON.stringify(value)}`;
    assert.throws(
      () => transcodedRequest({ [key]: value }),
      (error: unknown) => error instanceof JsonMappingError && error.message === `${key}: ${got}`,
    );
    assert.throws(
      () => throughType(typeOf(key), value, 'parseValue'),
      (error: unknown) => error instanceof GraphQLError && error.message.endsWith(`; ${got}`),
    );
  });
}

test('the JSON scalar reads an integer literal as a number, at the top and inside', () => {
  assert.equal(GRPC_SCALARS.JSON.parseLiteral(parseValue('5')), 5);
  assert.deepEqual(GRPC_SCALARS.JSON.parseLiteral(parseValue('{ n: 5, l: [1, 2.5] }')), {
    n: 5,
    l: [1, 2.5],
  });
});
