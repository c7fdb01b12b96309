import protobuf from 'protobufjs';
import { encodeBase64 } from './base64.ts';
import { hasPresence } from './proto-schema.ts';

/**
 * Values between protobufjs messages and GraphQL, by the proto3 JSON mapping: 64-bit integers
 * as decimal strings, bytes as base64, enums by name, well-known types in their JSON forms.
 */

type Obj = Record<string, unknown>;

const TIMESTAMP = '.google.protobuf.Timestamp';
const DURATION = '.google.protobuf.Duration';
const STRUCT = '.google.protobuf.Struct';
const VALUE = '.google.protobuf.Value';
const LIST_VALUE = '.google.protobuf.ListValue';
const WRAPPER =
  /^\.google\.protobuf\.(Double|Float|Int64|UInt64|Int32|UInt32|Bool|String|Bytes)Value$/;
const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

// ---- decoded message -> GraphQL

export function messageToGraphQL(type: protobuf.Type, message: Obj): Obj {
  const out: Obj = {};
  for (const field of type.fieldsArray) {
    const raw = message[field.name];
    if (field.map) {
      out[field.name] = Object.entries((raw as Obj | undefined) ?? {}).map(([key, value]) => ({
        key,
        value: valueToGraphQL(field, value),
      }));
    } else if (field.repeated) {
      out[field.name] = ((raw as unknown[] | undefined) ?? []).map((v) => valueToGraphQL(field, v));
    } else if (hasPresence(field) && !isSet(message, field)) {
      out[field.name] = null;
    } else if (raw === null || raw === undefined) {
      out[field.name] = field.resolvedType instanceof protobuf.Type ? null : defaultValue(field);
    } else {
      out[field.name] = valueToGraphQL(field, raw);
    }
  }
  return out;
}

/** Oneof members (proto3 `optional` is a one-member oneof) are set when their oneof names them. */
function isSet(message: Obj, field: protobuf.Field): boolean {
  if (field.partOf) return message[field.partOf.name] === field.name;
  return Object.prototype.hasOwnProperty.call(message, field.name);
}

function valueToGraphQL(field: protobuf.Field, value: unknown): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Enum)
    return resolved.valuesById[value as number] ?? String(value);
  if (resolved instanceof protobuf.Type) return wellKnownToGraphQL(resolved, value as Obj);
  return scalarToGraphQL(field.type, value);
}

function scalarToGraphQL(type: string, value: unknown): unknown {
  if (LONG_TYPES.has(type)) return String(value);
  if (type === 'bytes') return encodeBase64(value as Uint8Array);
  return value;
}

function wellKnownToGraphQL(type: protobuf.Type, value: Obj): unknown {
  const name = type.fullName;
  if (name === TIMESTAMP)
    return formatTimestamp(Number(value.seconds ?? 0), Number(value.nanos ?? 0));
  if (name === DURATION)
    return formatDuration(BigInt(String(value.seconds ?? 0)), Number(value.nanos ?? 0));
  if (WRAPPER.test(name)) return valueToGraphQL(type.fields.value as protobuf.Field, value.value);
  if (name === STRUCT || name === VALUE || name === LIST_VALUE) {
    return structToJson(
      type.toObject(value as unknown as protobuf.Message, { longs: String, enums: String }),
      name,
    );
  }
  return messageToGraphQL(type, value);
}

function defaultValue(field: protobuf.Field): unknown {
  if (field.resolvedType instanceof protobuf.Enum) return field.resolvedType.valuesById[0] ?? null;
  if (LONG_TYPES.has(field.type)) return '0';
  switch (field.type) {
    case 'bool':
      return false;
    case 'string':
    case 'bytes':
      return '';
    default:
      return 0;
  }
}

/** Z-normalised RFC 3339 with 0, 3, 6 or 9 fractional digits, as proto3 JSON writes it. */
export function formatTimestamp(seconds: number, nanos: number): string {
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  if (nanos === 0) return `${base}Z`;
  const digits = String(nanos).padStart(9, '0');
  const trimmed = digits.endsWith('000000')
    ? digits.slice(0, 3)
    : digits.endsWith('000')
      ? digits.slice(0, 6)
      : digits;
  return `${base}.${trimmed}Z`;
}

export function formatDuration(seconds: bigint, nanos: number): string {
  if (nanos === 0) return `${seconds}s`;
  const negative = seconds < 0n || nanos < 0;
  const whole = seconds < 0n ? -seconds : seconds;
  const fraction = String(Math.abs(nanos)).padStart(9, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}.${fraction}s`;
}

function structToJson(object: Obj, type: string): unknown {
  if (type === STRUCT)
    return Object.fromEntries(
      Object.entries((object.fields as Obj) ?? {}).map(([k, v]) => [
        k,
        structToJson(v as Obj, VALUE),
      ]),
    );
  if (type === LIST_VALUE)
    return ((object.values as Obj[]) ?? []).map((v) => structToJson(v, VALUE));
  if ('structValue' in object) return structToJson(object.structValue as Obj, STRUCT);
  if ('listValue' in object) return structToJson(object.listValue as Obj, LIST_VALUE);
  if ('stringValue' in object) return object.stringValue;
  if ('numberValue' in object) return object.numberValue;
  if ('boolValue' in object) return object.boolValue;
  return null;
}

// ---- GraphQL arguments -> plain object for Type.fromObject

export function graphQLToMessage(type: protobuf.Type, values: Obj): Obj {
  const out: Obj = {};
  for (const field of type.fieldsArray) {
    const value = values[field.name];
    if (value === null || value === undefined) continue;
    if (field.map) {
      out[field.name] = Object.fromEntries(
        (value as { key: unknown; value: unknown }[]).map((e) => [
          String(e.key),
          valueFromGraphQL(field, e.value),
        ]),
      );
    } else if (field.repeated) {
      out[field.name] = (value as unknown[]).map((v) => valueFromGraphQL(field, v));
    } else {
      out[field.name] = valueFromGraphQL(field, value);
    }
  }
  return out;
}

function valueFromGraphQL(field: protobuf.Field, value: unknown): unknown {
  const resolved = field.resolvedType;
  if (!(resolved instanceof protobuf.Type)) return value;
  const name = resolved.fullName;
  if (name === TIMESTAMP) return parseTimestamp(value as string);
  if (name === DURATION) return parseDuration(value as string);
  if (WRAPPER.test(name)) return { value };
  if (name === STRUCT) return jsonToStruct(value);
  if (name === VALUE) return jsonToValue(value);
  if (name === LIST_VALUE) return { values: (value as unknown[]).map(jsonToValue) };
  return graphQLToMessage(resolved, value as Obj);
}

export function parseTimestamp(text: string): { seconds: string; nanos: number } {
  const fraction = /\.(\d{1,9})/.exec(text)?.[1] ?? '';
  const millis = Date.parse(text.replace(/\.\d{1,9}/, ''));
  return { seconds: String(Math.floor(millis / 1000)), nanos: Number(fraction.padEnd(9, '0')) };
}

export function parseDuration(text: string): { seconds: string; nanos: number } {
  const [, sign = '', whole = '0', fraction = ''] = /^(-?)(\d+)(?:\.(\d{1,9}))?s$/.exec(text) ?? [];
  const nanos = Number(fraction.padEnd(9, '0'));
  return { seconds: `${sign}${whole}`, nanos: sign ? -nanos : nanos };
}

function jsonToStruct(value: unknown): Obj {
  return {
    fields: Object.fromEntries(Object.entries(value as Obj).map(([k, v]) => [k, jsonToValue(v)])),
  };
}

function jsonToValue(value: unknown): Obj {
  if (value === null || value === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(jsonToValue) } };
  return { structValue: jsonToStruct(value) };
}
