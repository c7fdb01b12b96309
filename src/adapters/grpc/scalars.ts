import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import {
  canonicalBytes,
  canonicalDuration,
  canonicalInt64,
  canonicalTimestamp,
  JsonMappingError,
} from './proto-json.ts';

/**
 * The custom scalars of the proto3 JSON mapping. Each checks its input, so a malformed value is
 * a BAD_USER_INPUT validation error at the gateway, never a backend call with garbage, and each
 * writes the canonical ProtoJSON string (proto-json.ts), both ways: a value reads and prints as
 * it does in transcoded JSON.
 */
function canonical(
  name: string,
  expects: string,
  convert: (json: unknown, path: string) => string,
): (value: unknown) => string {
  return (value) => {
    try {
      return convert(value, '');
    } catch (error) {
      if (!(error instanceof JsonMappingError)) throw error;
      throw new GraphQLError(`${name} expects ${expects}; ${error.message}`);
    }
  };
}

const int64 = canonical('Int64', 'an integer as a string', canonicalInt64);
const base64 = canonical('Base64', 'a base64 string', canonicalBytes);
const dateTime = canonical(
  'DateTime',
  'an RFC 3339 timestamp such as 2026-01-02T03:04:05Z',
  canonicalTimestamp,
);
const duration = canonical('Duration', 'seconds such as "1.5s"', canonicalDuration);

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
    // An integer literal past 2^53 stays its digits (literal() keeps them): Int64 reads them all.
    parseLiteral: (node) => check(literal(node)),
  });
}

export const GRPC_SCALARS = {
  Int64: scalar('Int64', 'A 64-bit integer as a decimal string: no precision is lost.', int64),
  Base64: scalar(
    'Base64',
    'Bytes as base64: standard or URL-safe, padding optional; written standard, padded.',
    base64,
  ),
  DateTime: scalar(
    'DateTime',
    'An RFC 3339 timestamp (google.protobuf.Timestamp), written Z-normalised with 0, 3, 6 or 9 fraction digits.',
    dateTime,
  ),
  Duration: scalar(
    'Duration',
    'Seconds with up to 9 decimals and an "s" (google.protobuf.Duration), written with 0, 3, 6 or 9.',
    duration,
  ),
  JSON: scalar(
    'JSON',
    'Any JSON value (google.protobuf.Struct, Value, ListValue, Any, empty messages).',
    (v) => v,
  ),
};
