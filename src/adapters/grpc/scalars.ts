import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { Base64Error, decodeBase64, encodeBase64 } from './base64.ts';

/**
 * The custom scalars of the proto3 JSON mapping. Each checks its input, so a malformed value is
 * a BAD_USER_INPUT validation error at the gateway, never a backend call with garbage.
 */
const INT64 = /^-?\d{1,20}$/;
const MIN_INT64 = -(2n ** 63n);
const MAX_UINT64 = 2n ** 64n - 1n;

function int64(value: unknown): string {
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text !== 'string' || !INT64.test(text))
    throw new GraphQLError('Int64 expects an integer as a string');
  const n = BigInt(text);
  if (n < MIN_INT64 || n > MAX_UINT64) throw new GraphQLError('Int64 is out of the 64-bit range');
  return n.toString();
}

/** Read as ProtoJSON reads bytes (either alphabet, padding optional), written standard. */
function base64(value: unknown): string {
  if (typeof value !== 'string') throw new GraphQLError('Base64 expects a base64 string');
  try {
    return encodeBase64(decodeBase64(value));
  } catch (error) {
    if (!(error instanceof Base64Error)) throw error;
    throw new GraphQLError(`Base64 expects a base64 string; this one ${error.message}`);
  }
}

/** RFC 3339 with a Z or numeric offset; proto3 Timestamp allows nanosecond fractions. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
function dateTime(value: unknown): string {
  if (typeof value !== 'string' || !RFC3339.test(value) || Number.isNaN(Date.parse(value))) {
    throw new GraphQLError('DateTime expects an RFC 3339 timestamp such as 2026-01-02T03:04:05Z');
  }
  return value;
}

const DURATION = /^-?\d+(\.\d{1,9})?s$/;
function duration(value: unknown): string {
  if (typeof value !== 'string' || !DURATION.test(value))
    throw new GraphQLError('Duration expects seconds such as "1.5s"');
  return value;
}

function literal(node: ValueNode): unknown {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.ENUM:
      return node.value;
    case Kind.INT:
      return Number.isSafeInteger(Number(node.value)) ? Number(node.value) : node.value;
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.BOOLEAN:
      return node.value;
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return node.values.map(literal);
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((f) => [f.name.value, literal(f.value)]));
    default:
      throw new GraphQLError('JSON literals cannot use variables inside them');
  }
}

function scalar(name: string, description: string, check: (value: unknown) => unknown) {
  return new GraphQLScalarType({
    name,
    description,
    serialize: check,
    parseValue: check,
    parseLiteral: (node) => check(node.kind === Kind.INT ? node.value : literal(node)),
  });
}

export const GRPC_SCALARS = {
  Int64: scalar('Int64', 'A 64-bit integer as a decimal string: no precision is lost.', int64),
  Base64: scalar(
    'Base64',
    'Bytes as base64: standard or URL-safe, padding optional; written standard, padded.',
    base64,
  ),
  DateTime: scalar('DateTime', 'An RFC 3339 timestamp (google.protobuf.Timestamp).', dateTime),
  Duration: scalar(
    'Duration',
    'Seconds with up to 9 decimals and an "s" (google.protobuf.Duration).',
    duration,
  ),
  JSON: scalar('JSON', 'Any JSON value (google.protobuf.Struct, Value, ListValue).', (v) => v),
};
