import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import {
  fieldValueFromJson,
  fromProtoJson,
  JsonMappingError,
  jsonName,
  toProtoJson,
} from '../../../src/adapters/grpc/proto-json.ts';

/** A .proto text parsed as the gateway loads protos: keepCase, google/protobuf/* built in. */
function load(text: string): protobuf.Root {
  const parsed = protobuf.parse(text, { keepCase: true });
  for (const file of parsed.imports ?? []) parsed.root.addJSON(protobuf.common.get(file)!.nested!);
  parsed.root.resolveAll();
  return parsed.root;
}

const root = load(`
  syntax = "proto3";
  package shop.v1;
  import "google/protobuf/any.proto";
  import "google/protobuf/duration.proto";
  import "google/protobuf/empty.proto";
  import "google/protobuf/field_mask.proto";
  import "google/protobuf/struct.proto";
  import "google/protobuf/timestamp.proto";
  import "google/protobuf/wrappers.proto";

  enum OrderStatus {
    ORDER_STATUS_UNSPECIFIED = 0;
    ORDER_STATUS_OPEN = 1;
    ORDER_STATUS_SHIPPED = 2;
  }

  message Scalars {
    double a_double = 1;
    float a_float = 2;
    int32 an_int32 = 3;
    int64 an_int64 = 4;
    uint32 a_uint32 = 5;
    uint64 a_uint64 = 6;
    sint32 a_sint32 = 7;
    sint64 a_sint64 = 8;
    fixed32 a_fixed32 = 9;
    fixed64 a_fixed64 = 10;
    sfixed32 an_sfixed32 = 11;
    sfixed64 an_sfixed64 = 12;
    bool a_bool = 13;
    string a_string = 14;
    bytes some_bytes = 15;
    OrderStatus status = 16;
  }

  message Item {
    string sku = 1;
    int32 quantity = 2;
  }

  message Order {
    string order_id = 1;
    string user_id = 2 [json_name = "customer"];
    repeated Item items = 3;
    map<int32, string> notes_by_line = 4;
    map<string, Item> items_by_sku = 5;
    map<int64, string> labels_by_id = 6;
    map<uint64, string> labels_by_code = 7;
    map<bool, string> labels_by_flag = 8;
    oneof payment {
      string card_token = 9;
      string voucher_code = 10;
    }
    optional int32 priority = 11;
    OrderStatus status = 12;
    repeated OrderStatus history = 13;
    Item gift = 14;
    repeated int64 line_ids = 15;
    int64 total_cents = 16;
    bytes signature = 17;
    bool rush = 18;
    double weight = 19;
  }

  message WellKnown {
    google.protobuf.Timestamp created_at = 1;
    google.protobuf.Duration ttl = 2;
    google.protobuf.DoubleValue a_double = 3;
    google.protobuf.FloatValue a_float = 4;
    google.protobuf.Int64Value an_int64 = 5;
    google.protobuf.UInt64Value a_uint64 = 6;
    google.protobuf.Int32Value an_int32 = 7;
    google.protobuf.UInt32Value a_uint32 = 8;
    google.protobuf.BoolValue a_bool = 9;
    google.protobuf.StringValue a_string = 10;
    google.protobuf.BytesValue some_bytes = 11;
    google.protobuf.Struct attributes = 12;
    google.protobuf.Value anything = 13;
    google.protobuf.ListValue list = 14;
    google.protobuf.FieldMask update_mask = 15;
    google.protobuf.Empty nothing = 16;
    google.protobuf.Any detail = 17;
    repeated google.protobuf.Value values = 18;
  }
`);
const Scalars = root.lookupType('shop.v1.Scalars');
const Item = root.lookupType('shop.v1.Item');
const Order = root.lookupType('shop.v1.Order');
const WellKnown = root.lookupType('shop.v1.WellKnown');

/** JSON -> message bytes -> decoded message -> JSON, the way a reply travels. */
function viaWire(type: protobuf.Type, object: Record<string, unknown>): Record<string, unknown> {
  const bytes = type.encode(type.fromObject(object)).finish();
  return type.decode(bytes) as unknown as Record<string, unknown>;
}

function roundTrip(type: protobuf.Type, json: unknown, options = {}): unknown {
  return toProtoJson(type, viaWire(type, fromProtoJson(type, json)), options);
}

/** Asserts that `fn` throws a JsonMappingError for `field` with `message`. */
function assertMappingError(fn: () => unknown, field: string, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof JsonMappingError);
    assert.equal(error.field, field);
    assert.equal(error.message, field === '' ? message : `${field}: ${message}`);
    return true;
  });
}

// -------------------------------------------------------------------------------------------
// Field names

const JSON_NAMES: [string, string][] = [
  ['user_id', 'userId'],
  ['display_name_2', 'displayName2'],
  ['a__b', 'aB'],
  ['trailing_', 'trailing'],
  ['_leading', 'Leading'],
  ['alreadyCamel', 'alreadyCamel'],
];
for (const [name, expected] of JSON_NAMES) {
  test(`jsonName of ${name} is ${expected}`, () => {
    assert.equal(jsonName(new protobuf.Field(name, 1, 'string')), expected);
  });
}

test('jsonName is the json_name option when the proto sets one', () => {
  assert.equal(jsonName(Order.fields.user_id!), 'customer');
});

test('input accepts both the json name and the proto name of a field', () => {
  assert.deepEqual(fromProtoJson(Order, { orderId: 'o1', customer: 'u1' }), {
    order_id: 'o1',
    user_id: 'u1',
  });
  assert.deepEqual(fromProtoJson(Order, { order_id: 'o1', user_id: 'u1' }), {
    order_id: 'o1',
    user_id: 'u1',
  });
});

test('a field given under both its names is an error', () => {
  assertMappingError(
    () => fromProtoJson(Order, { orderId: 'a', order_id: 'b' }),
    'order_id',
    'given twice, as "orderId" and "order_id"',
  );
});

test('an unknown field is an error naming the message it is in', () => {
  assertMappingError(() => fromProtoJson(Order, { nope: 1 }), '', 'unknown field "nope"');
  assertMappingError(
    () => fromProtoJson(Order, { gift: { sku: 'a', colour: 'red' } }),
    'gift',
    'unknown field "colour"',
  );
});

test('ignoreUnknown skips unknown fields', () => {
  assert.deepEqual(
    fromProtoJson(
      Order,
      { orderId: 'o1', nope: 1, gift: { colour: 'red' } },
      { ignoreUnknown: true },
    ),
    { order_id: 'o1', gift: {} },
  );
});

test('null for a field means the field is not set', () => {
  assert.deepEqual(
    fromProtoJson(Order, { orderId: null, items: null, gift: null, notesByLine: null }),
    {},
  );
});

test('the path argument prefixes error paths', () => {
  assertMappingError(
    () => fromProtoJson(Item, { quantity: 'x' }, {}, 'order.gift'),
    'order.gift.quantity',
    'expected a 32-bit integer, got "x"',
  );
});

// -------------------------------------------------------------------------------------------
// Scalars, JSON -> message

/** [json name, JSON value, value handed to fromObject] */
const VALID_SCALARS: [string, unknown, unknown][] = [
  ['anInt32', 42, 42],
  ['anInt32', '-42', -42],
  ['anInt32', 100.0, 100],
  ['anInt32', '1e2', 100],
  ['anInt32', 2147483647, 2147483647],
  ['anInt32', -2147483648, -2147483648],
  ['aSint32', -7, -7],
  ['anSfixed32', '-7', -7],
  ['aUint32', 4294967295, 4294967295],
  ['aFixed32', '7', 7],
  ['anInt64', 42, '42'],
  ['anInt64', '9223372036854775807', '9223372036854775807'],
  ['anInt64', '-9223372036854775808', '-9223372036854775808'],
  ['aSint64', '-1', '-1'],
  ['anSfixed64', '-9223372036854775808', '-9223372036854775808'],
  ['aUint64', '18446744073709551615', '18446744073709551615'],
  ['aFixed64', 18, '18'],
  ['aDouble', 1.5, 1.5],
  ['aDouble', '-2.5e3', -2500],
  ['aDouble', 'NaN', NaN],
  ['aDouble', 'Infinity', Infinity],
  ['aDouble', '-Infinity', -Infinity],
  ['aFloat', 0.25, 0.25],
  ['aBool', true, true],
  ['aBool', 'false', false],
  ['aString', 'héllo', 'héllo'],
  ['someBytes', 'AAH/+w==', Buffer.from([0, 1, 255, 251])],
  ['someBytes', 'AAH_-w', Buffer.from([0, 1, 255, 251])],
  ['someBytes', '', Buffer.alloc(0)],
  ['status', 'ORDER_STATUS_OPEN', 1],
  ['status', 2, 2],
  ['status', '2', 2],
  ['status', 7, 7],
];
for (const [key, json, expected] of VALID_SCALARS) {
  test(`${key} accepts ${JSON.stringify(json)}`, () => {
    const field = Scalars.fieldsArray.find((f) => jsonName(f) === key)!;
    assert.deepEqual(fromProtoJson(Scalars, { [key]: json }), { [field.name]: expected });
  });
}

/** [json name, JSON value, error message] */
const INVALID_SCALARS: [string, unknown, string][] = [
  ['anInt32', 1.5, 'expected a 32-bit integer, got 1.5'],
  ['anInt32', 'abc', 'expected a 32-bit integer, got "abc"'],
  ['anInt32', '', 'expected a 32-bit integer, got ""'],
  ['anInt32', true, 'expected a 32-bit integer, got true'],
  ['anInt32', 2147483648, 'expected a 32-bit integer, got 2147483648'],
  ['anInt32', -2147483649, 'expected a 32-bit integer, got -2147483649'],
  ['aUint32', -1, 'expected an unsigned 32-bit integer, got -1'],
  ['aUint32', 4294967296, 'expected an unsigned 32-bit integer, got 4294967296'],
  ['anInt64', '9223372036854775808', 'expected a 64-bit integer, got "9223372036854775808"'],
  ['anInt64', '-9223372036854775809', 'expected a 64-bit integer, got "-9223372036854775809"'],
  ['anInt64', 2 ** 60, 'expected a 64-bit integer, got 1152921504606847000'],
  ['anInt64', '1.5', 'expected a 64-bit integer, got "1.5"'],
  [
    'aUint64',
    '18446744073709551616',
    'expected an unsigned 64-bit integer, got "18446744073709551616"',
  ],
  ['aUint64', '-1', 'expected an unsigned 64-bit integer, got "-1"'],
  ['aDouble', 'abc', 'expected a number, got "abc"'],
  ['aDouble', false, 'expected a number, got false'],
  ['aFloat', 1e39, 'expected a number in the range of a float, got 1e+39'],
  ['aBool', 'yes', 'expected true or false, got "yes"'],
  ['aBool', 1, 'expected true or false, got 1'],
  ['aString', 5, 'expected a string, got 5'],
  ['aString', {}, 'expected a string, got an object'],
  ['someBytes', 'not base64!', 'expected base64, got "not base64!"'],
  ['someBytes', 'AAAAA', 'expected base64, got "AAAAA"'],
  ['someBytes', 'AA=', 'expected base64, got "AA="'],
  [
    'status',
    'ORDER_STATUS_LOST',
    'expected one of ORDER_STATUS_UNSPECIFIED, ORDER_STATUS_OPEN, ORDER_STATUS_SHIPPED, got "ORDER_STATUS_LOST"',
  ],
  [
    'status',
    1.5,
    'expected one of ORDER_STATUS_UNSPECIFIED, ORDER_STATUS_OPEN, ORDER_STATUS_SHIPPED, got 1.5',
  ],
];
for (const [key, json, message] of INVALID_SCALARS) {
  test(`${key} rejects ${JSON.stringify(json)}`, () => {
    assertMappingError(() => fromProtoJson(Scalars, { [key]: json }), key, message);
  });
}

test('an echoed client value is capped at 40 characters', () => {
  assertMappingError(
    () => fromProtoJson(Scalars, { anInt32: 'x'.repeat(1000) }),
    'anInt32',
    `expected a 32-bit integer, got "${'x'.repeat(38)}…`,
  );
});

test('fieldValueFromJson converts one string, as path variables and query values come', () => {
  assert.equal(fieldValueFromJson(Scalars.fields.an_int64!, '12', 'anInt64'), '12');
  assert.equal(fieldValueFromJson(Scalars.fields.a_bool!, 'true', 'aBool'), true);
  assert.equal(fieldValueFromJson(Scalars.fields.status!, 'ORDER_STATUS_SHIPPED', 'status'), 2);
  assert.deepEqual(
    fieldValueFromJson(WellKnown.fields.created_at!, '1970-01-01T00:00:01Z', 'createdAt'),
    { seconds: '1', nanos: 0 },
  );
  assertMappingError(
    () => fieldValueFromJson(Scalars.fields.an_int32!, 'x', 'items[0].quantity'),
    'items[0].quantity',
    'expected a 32-bit integer, got "x"',
  );
});

// -------------------------------------------------------------------------------------------
// Messages, lists, maps, oneofs, JSON -> message

test('an error names the nested field path', () => {
  assertMappingError(
    () => fromProtoJson(Order, { items: [{ quantity: 1 }, { sku: 'a', quantity: 'two' }] }),
    'items[1].quantity',
    'expected a 32-bit integer, got "two"',
  );
});

test('a message field must be a JSON object', () => {
  assertMappingError(
    () => fromProtoJson(Order, { gift: 'socks' }),
    'gift',
    'expected a JSON object, got "socks"',
  );
  assertMappingError(() => fromProtoJson(Order, []), '', 'expected a JSON object, got an array');
});

test('a repeated field must be a JSON array', () => {
  assertMappingError(
    () => fromProtoJson(Order, { items: { sku: 'a' } }),
    'items',
    'expected a JSON array, got an object',
  );
});

test('a null element of a repeated field is an error', () => {
  assertMappingError(
    () => fromProtoJson(Order, { lineIds: ['1', null] }),
    'lineIds[1]',
    'expected a 64-bit integer, got null',
  );
});

test('repeated enums accept names and numbers', () => {
  assert.deepEqual(fromProtoJson(Order, { history: ['ORDER_STATUS_OPEN', 2] }), {
    history: [1, 2],
  });
});

test('map keys are converted to the key type', () => {
  assert.deepEqual(
    fromProtoJson(Order, {
      notesByLine: { '1': 'first', '-2': 'second' },
      labelsById: { '9223372036854775807': 'max' },
      itemsBySku: { 'a-1': { quantity: 3 } },
    }),
    {
      notes_by_line: { '1': 'first', '-2': 'second' },
      labels_by_id: { '9223372036854775807': 'max' },
      items_by_sku: { 'a-1': { quantity: 3 } },
    },
  );
});

test('a map key that is not of the key type is an error naming the entry', () => {
  assertMappingError(
    () => fromProtoJson(Order, { notesByLine: { one: 'x' } }),
    'notesByLine["one"]',
    'expected a 32-bit integer, got "one"',
  );
  assertMappingError(
    () => fromProtoJson(Order, { labelsByFlag: { yes: 'x' } }),
    'labelsByFlag["yes"]',
    'expected a key of true or false, got "yes"',
  );
});

test('int, 64-bit and bool map keys survive encoding', () => {
  const json = {
    notesByLine: { '-2': 'minus two', '7': 'seven' },
    labelsById: { '-9223372036854775808': 'min', '42': 'answer' },
    labelsByCode: { '18446744073709551615': 'max' },
    labelsByFlag: { true: 'yes', false: 'no' },
  };
  assert.deepEqual(roundTrip(Order, json), json);
});

test('two members of one oneof is an error naming the oneof', () => {
  assertMappingError(
    () => fromProtoJson(Order, { cardToken: 'tok', voucherCode: 'V1' }),
    'voucherCode',
    'conflicts with "cardToken" in oneof "payment"',
  );
});

test('a null oneof member does not conflict with a set one', () => {
  assert.deepEqual(fromProtoJson(Order, { cardToken: null, voucherCode: 'V1' }), {
    voucher_code: 'V1',
  });
});

test('a proto3 optional field is not a oneof that conflicts with others', () => {
  assert.deepEqual(fromProtoJson(Order, { priority: 0, cardToken: 'tok' }), {
    priority: 0,
    card_token: 'tok',
  });
});

// -------------------------------------------------------------------------------------------
// Well-known types, both ways

/** [JSON in, fromObject value, canonical JSON out] */
const TIMESTAMPS: [string, { seconds: string; nanos: number }, string][] = [
  [
    '1972-01-01T10:00:20.021Z',
    { seconds: '63108020', nanos: 21000000 },
    '1972-01-01T10:00:20.021Z',
  ],
  [
    '1972-01-01T11:00:20.021+01:00',
    { seconds: '63108020', nanos: 21000000 },
    '1972-01-01T10:00:20.021Z',
  ],
  [
    '1972-01-01T04:30:20.021-05:30',
    { seconds: '63108020', nanos: 21000000 },
    '1972-01-01T10:00:20.021Z',
  ],
  ['1970-01-01T00:00:00Z', { seconds: '0', nanos: 0 }, '1970-01-01T00:00:00Z'],
  ['1970-01-01T00:00:00.000000001Z', { seconds: '0', nanos: 1 }, '1970-01-01T00:00:00.000000001Z'],
  ['1970-01-01T00:00:00.12Z', { seconds: '0', nanos: 120000000 }, '1970-01-01T00:00:00.120Z'],
  ['1970-01-01T00:00:00.0000012Z', { seconds: '0', nanos: 1200 }, '1970-01-01T00:00:00.000001200Z'],
  ['1969-12-31T23:59:59.5Z', { seconds: '-1', nanos: 500000000 }, '1969-12-31T23:59:59.500Z'],
  ['0001-01-01T00:00:00Z', { seconds: '-62135596800', nanos: 0 }, '0001-01-01T00:00:00Z'],
  [
    '9999-12-31T23:59:59.999999999Z',
    { seconds: '253402300799', nanos: 999999999 },
    '9999-12-31T23:59:59.999999999Z',
  ],
];
for (const [input, message, output] of TIMESTAMPS) {
  test(`Timestamp ${input} reads as ${JSON.stringify(message)} and writes as ${output}`, () => {
    assert.deepEqual(fromProtoJson(WellKnown, { createdAt: input }), { created_at: message });
    assert.deepEqual(roundTrip(WellKnown, { createdAt: input }), { createdAt: output });
  });
}

const BAD_TIMESTAMPS = [
  'yesterday',
  '1972-01-01 10:00:20Z',
  '1972-01-01T10:00:20',
  '1972-02-30T00:00:00Z',
  '1972-01-01T24:00:00Z',
  '1972-01-01T10:00:20.0123456789Z',
  '1972-01-01T10:00:20+25:00',
];
for (const input of BAD_TIMESTAMPS) {
  test(`Timestamp rejects ${input}`, () => {
    assertMappingError(
      () => fromProtoJson(WellKnown, { createdAt: input }),
      'createdAt',
      `expected an RFC 3339 timestamp such as "1972-01-01T10:00:20.021Z", got "${input}"`,
    );
  });
}

test('Timestamp rejects times outside the years 0001 to 9999', () => {
  assertMappingError(
    () => fromProtoJson(WellKnown, { createdAt: '0001-01-01T00:00:00+01:00' }),
    'createdAt',
    'expected a timestamp in the years 0001 to 9999, got "0001-01-01T00:00:00+01:00"',
  );
});

/** [JSON in, fromObject value, canonical JSON out] */
const DURATIONS: [string, { seconds: string; nanos: number }, string][] = [
  ['1.000340012s', { seconds: '1', nanos: 340012 }, '1.000340012s'],
  ['1.5s', { seconds: '1', nanos: 500000000 }, '1.500s'],
  ['-3s', { seconds: '-3', nanos: 0 }, '-3s'],
  ['-0.5s', { seconds: '0', nanos: -500000000 }, '-0.500s'],
  ['-1.000001s', { seconds: '-1', nanos: -1000 }, '-1.000001s'],
  ['0s', { seconds: '0', nanos: 0 }, '0s'],
  ['315576000000s', { seconds: '315576000000', nanos: 0 }, '315576000000s'],
];
for (const [input, message, output] of DURATIONS) {
  test(`Duration ${input} reads as ${JSON.stringify(message)} and writes as ${output}`, () => {
    assert.deepEqual(fromProtoJson(WellKnown, { ttl: input }), { ttl: message });
    assert.deepEqual(roundTrip(WellKnown, { ttl: input }), { ttl: output });
  });
}

for (const input of ['3', '1.5m', '1.s', '+3s', '1.0123456789s']) {
  test(`Duration rejects ${input}`, () => {
    assertMappingError(
      () => fromProtoJson(WellKnown, { ttl: input }),
      'ttl',
      `expected a duration such as "1.5s", got "${input}"`,
    );
  });
}

test('Duration rejects more than 10000 years', () => {
  assertMappingError(
    () => fromProtoJson(WellKnown, { ttl: '315576000001s' }),
    'ttl',
    'expected a duration within 10000 years, got "315576000001s"',
  );
});

/** [json name, JSON in, fromObject value, canonical JSON out] */
const WRAPPERS: [string, unknown, unknown, unknown][] = [
  ['aDouble', 'NaN', NaN, 'NaN'],
  ['aDouble', 2.5, 2.5, 2.5],
  ['aFloat', 0.1, 0.1, 0.1],
  ['anInt64', '-9223372036854775808', '-9223372036854775808', '-9223372036854775808'],
  ['anInt64', 5, '5', '5'],
  ['aUint64', '18446744073709551615', '18446744073709551615', '18446744073709551615'],
  ['anInt32', '-5', -5, -5],
  ['aUint32', 4294967295, 4294967295, 4294967295],
  ['aBool', false, false, false],
  ['aString', '', '', ''],
  ['someBytes', 'AAE', Buffer.from([0, 1]), 'AAE='],
];
for (const [key, input, value, output] of WRAPPERS) {
  test(`wrapper ${key} is the bare value ${JSON.stringify(input)}`, () => {
    const field = WellKnown.fieldsArray.find((f) => jsonName(f) === key)!;
    assert.deepEqual(fromProtoJson(WellKnown, { [key]: input }), { [field.name]: { value } });
    assert.deepEqual(roundTrip(WellKnown, { [key]: input }), { [key]: output });
  });
}

test('a wrapper is validated like its scalar', () => {
  assertMappingError(
    () => fromProtoJson(WellKnown, { anInt32: 'x' }),
    'anInt32',
    'expected a 32-bit integer, got "x"',
  );
});

test('Struct is a JSON object, and each Value any JSON value', () => {
  const attributes = {
    size: 42,
    name: 'box',
    tags: ['a', 1, true, null],
    dims: { w: 1.5 },
    none: null,
  };
  assert.deepEqual(fromProtoJson(WellKnown, { attributes: { n: 1, s: 'x', z: null } }), {
    attributes: {
      fields: { n: { numberValue: 1 }, s: { stringValue: 'x' }, z: { nullValue: 0 } },
    },
  });
  assert.deepEqual(roundTrip(WellKnown, { attributes }), { attributes });
});

const VALUES: unknown[] = [
  null,
  0,
  -1.5,
  '',
  'text',
  true,
  false,
  [],
  [1, 'a', [null]],
  {},
  { a: { b: [] } },
];
for (const value of VALUES) {
  test(`Value holds ${JSON.stringify(value)}`, () => {
    assert.deepEqual(roundTrip(WellKnown, { anything: value }), { anything: value });
  });
}

test('Value maps each JSON kind to its member of the kind oneof', () => {
  assert.deepEqual(fromProtoJson(WellKnown, { values: [null, 1, 's', true, [2], { k: false }] }), {
    values: [
      { nullValue: 0 },
      { numberValue: 1 },
      { stringValue: 's' },
      { boolValue: true },
      { listValue: { values: [{ numberValue: 2 }] } },
      { structValue: { fields: { k: { boolValue: false } } } },
    ],
  });
});

test('null for a Value field is the JSON null, not an unset field', () => {
  assert.deepEqual(fromProtoJson(WellKnown, { anything: null }), { anything: { nullValue: 0 } });
});

test('ListValue is a JSON array', () => {
  assert.deepEqual(fromProtoJson(WellKnown, { list: [1, 'two'] }), {
    list: { values: [{ numberValue: 1 }, { stringValue: 'two' }] },
  });
  assert.deepEqual(roundTrip(WellKnown, { list: [1, 'two', { three: [] }] }), {
    list: [1, 'two', { three: [] }],
  });
  assertMappingError(
    () => fromProtoJson(WellKnown, { list: { a: 1 } }),
    'list',
    'expected a JSON array, got an object',
  );
});

test('FieldMask is one string of lowerCamelCase paths', () => {
  assert.deepEqual(fromProtoJson(WellKnown, { updateMask: 'user.displayName,photo' }), {
    update_mask: { paths: ['user.display_name', 'photo'] },
  });
  assert.deepEqual(roundTrip(WellKnown, { updateMask: 'user.displayName,photo' }), {
    updateMask: 'user.displayName,photo',
  });
  assert.deepEqual(fromProtoJson(WellKnown, { updateMask: '' }), { update_mask: { paths: [] } });
});

test('FieldMask rejects snake_case paths', () => {
  assertMappingError(
    () => fromProtoJson(WellKnown, { updateMask: 'user.display_name' }),
    'updateMask',
    'expected comma-separated lowerCamelCase field paths, got "user.display_name"',
  );
});

test('Empty is {} both ways, and takes no fields', () => {
  assert.deepEqual(fromProtoJson(WellKnown, { nothing: {} }), { nothing: {} });
  assert.deepEqual(roundTrip(WellKnown, { nothing: {} }), { nothing: {} });
  assertMappingError(
    () => fromProtoJson(WellKnown, { nothing: { x: 1 } }),
    'nothing',
    'unknown field "x"',
  );
});

test('Any embeds the packed message under "@type" both ways', () => {
  const json = { detail: { '@type': 'type.googleapis.com/shop.v1.Item', sku: 'a', quantity: 2 } };
  const packed = Item.encode(Item.fromObject({ sku: 'a', quantity: 2 })).finish();
  const message = fromProtoJson(WellKnown, json) as {
    detail: { type_url: string; value: Uint8Array };
  };
  assert.equal(message.detail.type_url, 'type.googleapis.com/shop.v1.Item');
  assert.deepEqual(Buffer.from(message.detail.value), Buffer.from(packed));
  assert.deepEqual(roundTrip(WellKnown, json), json);
});

test('Any holds a well-known type by its own JSON under "value"', () => {
  const json = {
    detail: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '1.500s' },
  };
  assert.deepEqual(roundTrip(WellKnown, json), json);
});

test('an empty Any is {} both ways', () => {
  assert.deepEqual(roundTrip(WellKnown, { detail: {} }), { detail: {} });
});

test('Any input whose type no loaded proto defines is an error naming "@type"', () => {
  assertMappingError(
    () => fromProtoJson(WellKnown, { detail: { '@type': 'type.googleapis.com/other.Thing' } }),
    'detail.@type',
    'no loaded proto defines "type.googleapis.com/other.Thing"',
  );
  assertMappingError(
    () => fromProtoJson(WellKnown, { detail: { sku: 'a' } }),
    'detail.@type',
    'expected a type URL, got undefined',
  );
});

test('Any output of a type no loaded proto defines keeps its packed bytes in base64', () => {
  const message = viaWire(WellKnown, {
    detail: { type_url: 'type.googleapis.com/other.Thing', value: Buffer.from([1, 2]) },
  });
  assert.deepEqual(toProtoJson(WellKnown, message), {
    detail: { '@type': 'type.googleapis.com/other.Thing', value: 'AQI=' },
  });
});

test('a well-known type is mapped at the top level too', () => {
  const Timestamp = root.lookupType('google.protobuf.Timestamp');
  assert.deepEqual(fromProtoJson(Timestamp, '1970-01-01T00:00:02Z'), { seconds: '2', nanos: 0 });
  assert.equal(toProtoJson(Timestamp, { seconds: 2, nanos: 0 }), '1970-01-01T00:00:02Z');
});

// -------------------------------------------------------------------------------------------
// message -> JSON

test('output omits fields with default values', () => {
  assert.deepEqual(toProtoJson(Order, viaWire(Order, {})), {});
  const explicit = Scalars.fromObject({ an_int32: 0, an_int64: '0', a_string: '', status: 0 });
  assert.deepEqual(toProtoJson(Scalars, explicit as unknown as Record<string, unknown>), {});
});

test('emitDefaults emits defaults but leaves unset messages, oneofs and optionals out', () => {
  assert.deepEqual(toProtoJson(Order, viaWire(Order, {}), { emitDefaults: true }), {
    orderId: '',
    customer: '',
    items: [],
    notesByLine: {},
    itemsBySku: {},
    labelsById: {},
    labelsByCode: {},
    labelsByFlag: {},
    status: 'ORDER_STATUS_UNSPECIFIED',
    history: [],
    lineIds: [],
    totalCents: '0',
    signature: '',
    rush: false,
    weight: 0,
  });
});

test('emitDefaults works on a plain object that lacks the fields', () => {
  assert.deepEqual(toProtoJson(Item, {}, { emitDefaults: true }), { sku: '', quantity: 0 });
});

test('set oneof members and optional fields are emitted even with default values', () => {
  assert.deepEqual(toProtoJson(Order, viaWire(Order, { priority: 0, card_token: '' })), {
    cardToken: '',
    priority: 0,
  });
});

test('a set message field is emitted even when empty', () => {
  assert.deepEqual(toProtoJson(Order, viaWire(Order, { gift: {} })), { gift: {} });
});

test('useProtoNames writes proto field names', () => {
  assert.deepEqual(
    toProtoJson(Order, viaWire(Order, { user_id: 'u1', total_cents: 5, gift: { sku: 'a' } }), {
      useProtoNames: true,
    }),
    { user_id: 'u1', total_cents: '5', gift: { sku: 'a' } },
  );
});

test('output writes 64-bit integers, NaN and Infinity as strings, bytes as padded base64', () => {
  const message = viaWire(Scalars, {
    an_int64: '-9223372036854775808',
    a_uint64: '18446744073709551615',
    a_fixed64: 1,
    some_bytes: Buffer.from([0xfb, 0xff]),
    a_double: NaN,
    a_float: -Infinity,
  });
  assert.deepEqual(toProtoJson(Scalars, message), {
    anInt64: '-9223372036854775808',
    aUint64: '18446744073709551615',
    aFixed64: '1',
    someBytes: '+/8=',
    aDouble: 'NaN',
    aFloat: '-Infinity',
  });
});

test('output writes a float as the shortest decimal that reads back as the same float', () => {
  assert.deepEqual(toProtoJson(Scalars, viaWire(Scalars, { a_float: 0.1 })), { aFloat: 0.1 });
  assert.deepEqual(toProtoJson(Scalars, viaWire(Scalars, { a_float: 3.4028234663852886e38 })), {
    aFloat: 3.4028235e38,
  });
});

test('output writes enums by name, and an unknown number as the number', () => {
  assert.deepEqual(toProtoJson(Order, viaWire(Order, { status: 2, history: [1, 9] })), {
    status: 'ORDER_STATUS_SHIPPED',
    history: ['ORDER_STATUS_OPEN', 9],
  });
});

test('a message with everything in it survives JSON -> wire -> JSON unchanged', () => {
  const order = {
    orderId: 'o-1',
    customer: 'u-1',
    items: [
      { sku: 'a', quantity: 2 },
      { sku: 'b', quantity: -1 },
    ],
    notesByLine: { '1': 'gift wrap' },
    itemsBySku: { a: { sku: 'a', quantity: 2 } },
    labelsById: { '9223372036854775807': 'max' },
    labelsByCode: { '18446744073709551615': 'max' },
    labelsByFlag: { false: 'no' },
    voucherCode: 'V1',
    priority: 3,
    status: 'ORDER_STATUS_OPEN',
    history: ['ORDER_STATUS_UNSPECIFIED', 'ORDER_STATUS_OPEN'],
    gift: { sku: 'socks' },
    lineIds: ['-9223372036854775808', '0', '9223372036854775807'],
    totalCents: '1999',
    signature: 'AAH/+w==',
    rush: true,
    weight: 1.25,
  };
  assert.deepEqual(roundTrip(Order, order), order);

  const wellKnown = {
    createdAt: '2024-02-29T23:59:59.999Z',
    ttl: '-1.000000001s',
    aDouble: 'Infinity',
    aFloat: 1.5,
    anInt64: '-1',
    aUint64: '1',
    anInt32: 1,
    aUint32: 1,
    aBool: true,
    aString: 's',
    someBytes: 'AA==',
    attributes: { a: [1, { b: null }] },
    anything: 'any',
    list: [true],
    updateMask: 'a.bC,d',
    nothing: {},
    values: [null, 'x'],
  };
  assert.deepEqual(roundTrip(WellKnown, wellKnown), wellKnown);
});

test('input in non-canonical forms comes back in the canonical form', () => {
  assert.deepEqual(
    roundTrip(Scalars, {
      an_int32: '7',
      an_int64: 7,
      a_bool: 'true',
      some_bytes: '-_8',
      status: 1,
    }),
    { anInt32: 7, anInt64: '7', aBool: true, someBytes: '+/8=', status: 'ORDER_STATUS_OPEN' },
  );
});
