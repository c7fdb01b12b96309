import protobuf from 'protobufjs';
import { Base64Error, decodeBase64, encodeBase64 } from './base64.ts';

/**
 * The canonical JSON mapping of Protocol Buffers ("ProtoJSON"), both ways:
 * https://protobuf.dev/programming-guides/json/
 *
 * The gateway's one mapping between protobuf values and JSON: transcoding (translate/) and the
 * gRPC port write and read it as it is, and the gRPC adapter's GraphQL values are the same JSON
 * in GraphQL's shape (`mapEntries`, `emitDefaults`, proto names; see values.ts).
 *
 * Input becomes a plain object for `Type.fromObject()`: keys are proto field names, 64-bit
 * integers decimal strings, bytes Buffers. Output reads messages from `Type.decode()` or
 * `Type.fromObject()`, where 64-bit integers are `Long`s and unset fields fall back to the
 * prototype's defaults.
 */

type Obj = Record<string, unknown>;

/**
 * A value that does not fit its field; `field` is the dotted JSON path such as
 * `items[2].quantity` or `user_id`. The message starts with it, so a printed error names the field.
 */
export class JsonMappingError extends Error {
  override readonly name = 'JsonMappingError';
  readonly field: string;

  constructor(field: string, message: string) {
    super(field === '' ? message : `${field}: ${message}`);
    this.field = field;
  }
}

/**
 * protoc's json name: the `json_name` option when set, else lowerCamelCase of the proto name
 * (protoc's ToJsonName drops each `_` and upper-cases the letter after it).
 */
export function jsonName(field: protobuf.Field): string {
  const explicit: unknown = field.options?.json_name;
  return typeof explicit === 'string' ? explicit : lowerCamel(field.name);
}

function lowerCamel(name: string): string {
  return name.replace(/_+([^_]?)/g, (_underscores, next: string) => next.toUpperCase());
}

export interface FromJsonOptions {
  /** Skip keys that name no field instead of failing. @default false */
  ignoreUnknown?: boolean;
  /**
   * Maps come as lists of `{ key, value }` entries, each key the JSON value of the key type
   * (`true`, `7`, `"9007199254740993"`), as GraphQL, which has no map type, spells them.
   * Well-known types keep their own JSON (a Struct is an object). @default false
   */
  mapEntries?: boolean;
}

export interface ToJsonOptions {
  /**
   * Emit fields with default values (0, "", false, empty lists/maps, first enum value);
   * messages that are unset stay omitted. @default false
   */
  emitDefaults?: boolean;
  /** Use proto field names instead of lowerCamelCase json names. @default false */
  useProtoNames?: boolean;
  /** Write maps as lists of `{ key, value }` entries (see FromJsonOptions). @default false */
  mapEntries?: boolean;
}

/** Inside a well-known type the JSON is the type's own: a Struct's map is an object. */
function ownJson<T extends { mapEntries?: boolean }>(options: T): T {
  return options.mapEntries ? { ...options, mapEntries: false } : options;
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

const DECIMAL = /^-?\d+$/;
/** A JSON number written as a string; the spec accepts exponents in strings too. */
const NUMERIC = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

interface IntegerKind {
  min: bigint;
  max: bigint;
  expected: string;
  /** 64-bit: travels as a decimal string, since a JSON number loses precision past 2^53. */
  long: boolean;
}

const INT32: IntegerKind = {
  min: -(2n ** 31n),
  max: 2n ** 31n - 1n,
  expected: 'a 32-bit integer',
  long: false,
};
const UINT32: IntegerKind = {
  min: 0n,
  max: 2n ** 32n - 1n,
  expected: 'an unsigned 32-bit integer',
  long: false,
};
const INT64: IntegerKind = {
  min: -(2n ** 63n),
  max: 2n ** 63n - 1n,
  expected: 'a 64-bit integer',
  long: true,
};
const UINT64: IntegerKind = {
  min: 0n,
  max: 2n ** 64n - 1n,
  expected: 'an unsigned 64-bit integer',
  long: true,
};

const INTEGER_KINDS = new Map<string, IntegerKind>([
  ['int32', INT32],
  ['sint32', INT32],
  ['sfixed32', INT32],
  ['uint32', UINT32],
  ['fixed32', UINT32],
  ['int64', INT64],
  ['sint64', INT64],
  ['sfixed64', INT64],
  ['uint64', UINT64],
  ['fixed64', UINT64],
]);

const NULL_VALUE = '.google.protobuf.NullValue';
const VALUE = '.google.protobuf.Value';

function isObject(json: unknown): json is Obj {
  return typeof json === 'object' && json !== null && !Array.isArray(json);
}

/** A client value for an error message, capped so that a large body is never echoed back. */
function describe(json: unknown): string {
  if (Array.isArray(json)) return 'an array';
  if (isObject(json)) return 'an object';
  const text = JSON.stringify(json) ?? String(json);
  return text.length > 40 ? `${text.slice(0, 39)}…` : text;
}

function mismatch(path: string, expected: string, json: unknown): JsonMappingError {
  return new JsonMappingError(path, `expected ${expected}, got ${describe(json)}`);
}

function joinPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** Input keys by json name and by proto name, built once per type. */
const keyIndex = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();

function fieldByKey(type: protobuf.Type, key: string): protobuf.Field | undefined {
  let index = keyIndex.get(type);
  if (!index) {
    index = new Map();
    for (const field of type.fieldsArray) index.set(jsonName(field), field);
    for (const field of type.fieldsArray) index.set(field.name, field);
    keyIndex.set(type, index);
  }
  return index.get(key);
}

/**
 * A well-known type's field by its json name: protobufjs's built-in definitions spell them
 * camelCase (`nullValue`), google's .proto files snake_case (`null_value`); both map here.
 */
function fieldOf(type: protobuf.Type, key: string): protobuf.Field {
  const field = fieldByKey(type, key);
  if (!field) throw new Error(`${type.fullName} has no field ${key}`);
  return field;
}

/** A well-known type's message from values keyed by json name. */
function pack(type: protobuf.Type, values: Obj): Obj {
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => [fieldOf(type, key).name, value]),
  );
}

function read(type: protobuf.Type, message: Obj, key: string): unknown {
  return message[fieldOf(type, key).name];
}

/** protobufjs's typings derive MapField from FieldBase; at runtime a map field is a Field. */
function keyTypeOf(field: protobuf.Field): string {
  return (field as unknown as protobuf.MapField).keyType;
}

/** Explicitly set: decoded messages hold unset fields' defaults on their prototype. */
function isSet(message: Obj, field: protobuf.Field): boolean {
  return Object.prototype.hasOwnProperty.call(message, field.name) && message[field.name] != null;
}

// ---------------------------------------------------------------------------------------------
// JSON -> message

/**
 * JSON (already JSON.parse'd) -> a plain object ready for `type.fromObject()` (keys = field.name).
 * Throws JsonMappingError naming the field. `path` is the prefix for error field paths.
 */
export function fromProtoJson(
  type: protobuf.Type,
  json: unknown,
  options: FromJsonOptions = {},
  path = '',
): Obj {
  const wellKnown = WELL_KNOWN.get(type.fullName);
  return wellKnown
    ? wellKnown.fromJson(type, json, path, ownJson(options))
    : messageFromJson(type, json, options, path);
}

/**
 * One field's value from JSON (used for path variables and query parameters, whose values are
 * strings): same rules as inside fromProtoJson; `repeated`/map handling NOT applied here (the
 * caller passes one element).
 */
export function fieldValueFromJson(
  field: protobuf.Field,
  json: unknown,
  path: string,
  options: FromJsonOptions = {},
): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return fromProtoJson(resolved, json, options, path);
  if (resolved instanceof protobuf.Enum) return enumFromJson(resolved, json, path);
  return scalarFromJson(field.type, json, path);
}

function messageFromJson(
  type: protobuf.Type,
  json: unknown,
  options: FromJsonOptions,
  path: string,
): Obj {
  if (!isObject(json)) throw mismatch(path, 'a JSON object', json);
  const message: Obj = {};
  const keyOfField = new Map<protobuf.Field, string>();
  const keyInOneof = new Map<protobuf.OneOf, string>();
  for (const [key, value] of Object.entries(json)) {
    const field = fieldByKey(type, key);
    if (!field) {
      if (options.ignoreUnknown) continue;
      throw new JsonMappingError(path, `unknown field ${describe(key)}`);
    }
    const at = joinPath(path, key);
    const earlier = keyOfField.get(field);
    if (earlier !== undefined)
      throw new JsonMappingError(at, `given twice, as ${describe(earlier)} and ${describe(key)}`);
    keyOfField.set(field, key);
    if (value === null && !takesNull(field)) continue;
    // A proto3 `optional` field is a one-member oneof, so it can never conflict here.
    const oneof = field.partOf;
    if (oneof) {
      const other = keyInOneof.get(oneof);
      if (other !== undefined)
        throw new JsonMappingError(
          at,
          `conflicts with ${describe(other)} in oneof "${oneof.name}"`,
        );
      keyInOneof.set(oneof, key);
    }
    message[field.name] = fieldFromJson(field, value, at, options);
  }
  return message;
}

/** `null` means "not set", except where it is a value: google.protobuf.Value and NullValue. */
function takesNull(field: protobuf.Field): boolean {
  const fullName = field.resolvedType?.fullName;
  return !field.repeated && !field.map && (fullName === VALUE || fullName === NULL_VALUE);
}

function fieldFromJson(
  field: protobuf.Field,
  json: unknown,
  path: string,
  options: FromJsonOptions,
): unknown {
  if (field.map) return mapFromJson(field, json, path, options);
  if (field.repeated) {
    if (!Array.isArray(json)) throw mismatch(path, 'a JSON array', json);
    return json.map((item, i) => fieldValueFromJson(field, item, `${path}[${i}]`, options));
  }
  return fieldValueFromJson(field, json, path, options);
}

function mapFromJson(
  field: protobuf.Field,
  json: unknown,
  path: string,
  options: FromJsonOptions,
): Obj {
  if (options.mapEntries) return mapFromEntries(field, json, path, options);
  if (!isObject(json)) throw mismatch(path, 'a JSON object', json);
  // fromEntries defines keys, so a `__proto__` key stays data instead of replacing the prototype.
  return Object.fromEntries(
    Object.entries(json).map(([key, value]) => {
      const at = `${path}[${describe(key)}]`;
      return [
        mapKeyFromJson(keyTypeOf(field), key, at),
        fieldValueFromJson(field, value, at, options),
      ];
    }),
  );
}

function mapFromEntries(
  field: protobuf.Field,
  json: unknown,
  path: string,
  options: FromJsonOptions,
): Obj {
  if (!Array.isArray(json)) throw mismatch(path, 'a list of { key, value } entries', json);
  return Object.fromEntries(
    json.map((entry: unknown, i) => {
      const at = `${path}[${i}]`;
      if (!isObject(entry)) throw mismatch(at, 'a { key, value } entry', entry);
      return [
        mapKeyFromJson(keyTypeOf(field), String(entry.key), `${at}.key`),
        fieldValueFromJson(field, entry.value, `${at}.value`, options),
      ];
    }),
  );
}

/** JSON object keys are strings: integer and bool keys are their JSON values in quotes. */
function mapKeyFromJson(keyType: string, key: string, path: string): string {
  if (keyType === 'string') return key;
  if (keyType === 'bool') {
    if (key === 'true') return 'true';
    // protobufjs encodes a map key with `writer.bool(key)`, and the string "false" is truthy;
    // the empty string is the key that encodes as false.
    if (key === 'false') return '';
    throw mismatch(path, 'a key of true or false', key);
  }
  return String(scalarFromJson(keyType, key, path));
}

function scalarFromJson(type: string, json: unknown, path: string): unknown {
  const integer = INTEGER_KINDS.get(type);
  if (integer) return integerFromJson(integer, json, path);
  switch (type) {
    case 'double':
      return floatFromJson(json, path, false);
    case 'float':
      return floatFromJson(json, path, true);
    case 'bool':
      if (json === true || json === 'true') return true;
      if (json === false || json === 'false') return false;
      throw mismatch(path, 'true or false', json);
    case 'string':
      if (typeof json === 'string') return json;
      throw mismatch(path, 'a string', json);
    case 'bytes':
      return bytesFromJson(json, path);
    default:
      throw new Error(`${type} is not a scalar type`);
  }
}

/** Integers come as numbers or strings, exponents and `.0` included, if the value is integral. */
function integerFromJson(kind: IntegerKind, json: unknown, path: string): number | string {
  const value = integerOf(json);
  if (value === undefined || value < kind.min || value > kind.max)
    throw mismatch(path, kind.expected, json);
  return kind.long ? value.toString() : Number(value);
}

function integerOf(json: unknown): bigint | undefined {
  if (typeof json === 'string' && DECIMAL.test(json)) return BigInt(json);
  const number =
    typeof json === 'number'
      ? json
      : typeof json === 'string' && NUMERIC.test(json)
        ? Number(json)
        : NaN;
  // Past 2^53 a JSON number has already lost digits: such values must come as strings.
  return Number.isSafeInteger(number) ? BigInt(number) : undefined;
}

const SPECIAL_FLOATS = new Map([
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
]);

function floatFromJson(json: unknown, path: string, single: boolean): number {
  const value =
    typeof json === 'number'
      ? json
      : typeof json === 'string'
        ? (SPECIAL_FLOATS.get(json) ?? (NUMERIC.test(json) ? Number(json) : undefined))
        : undefined;
  if (value === undefined) throw mismatch(path, 'a number', json);
  if (single && Number.isFinite(value) && !Number.isFinite(Math.fround(value)))
    throw mismatch(path, 'a number in the range of a float', json);
  return value;
}

function bytesFromJson(json: unknown, path: string): Buffer {
  if (typeof json !== 'string') throw mismatch(path, 'base64', json);
  try {
    return decodeBase64(json);
  } catch (error) {
    if (!(error instanceof Base64Error)) throw error;
    throw mismatch(path, 'base64', json);
  }
}

function enumFromJson(type: protobuf.Enum, json: unknown, path: string): number {
  if (json === null && type.fullName === NULL_VALUE) return 0;
  if (typeof json === 'string' && Object.hasOwn(type.values, json))
    return type.values[json] as number;
  // proto3 enums are open: any int32 is a value, named or not.
  const number =
    typeof json === 'number' || (typeof json === 'string' && DECIMAL.test(json))
      ? integerOf(json)
      : undefined;
  if (number !== undefined && number >= INT32.min && number <= INT32.max) return Number(number);
  throw mismatch(path, `one of ${enumNames(type)}`, json);
}

function enumNames(type: protobuf.Enum): string {
  const names = Object.keys(type.values);
  return names.length > 10 ? `${names.slice(0, 10).join(', ')}, …` : names.join(', ');
}

// ---------------------------------------------------------------------------------------------
// message -> JSON

/** A decoded message (from `type.decode(bytes)` or `type.fromObject(...)`) -> ProtoJSON value. */
export function toProtoJson(
  type: protobuf.Type,
  message: Obj,
  options: ToJsonOptions = {},
): unknown {
  const wellKnown = WELL_KNOWN.get(type.fullName);
  if (wellKnown) return wellKnown.toJson(type, message, ownJson(options));
  const json: Obj = {};
  for (const field of type.fieldsArray) {
    if (isOmitted(field, message, options)) continue;
    json[options.useProtoNames ? field.name : jsonName(field)] = fieldToJson(
      field,
      message[field.name],
      options,
    );
  }
  return json;
}

/**
 * Fields with presence (oneof members, proto3 `optional`, proto2) are emitted when set, even
 * to a default; messages when set, even empty; the rest when not default or with emitDefaults.
 */
function isOmitted(field: protobuf.Field, message: Obj, options: ToJsonOptions): boolean {
  const value = message[field.name];
  if (field.map) return !options.emitDefaults && Object.keys((value ?? {}) as Obj).length === 0;
  if (field.repeated) return !options.emitDefaults && ((value ?? []) as unknown[]).length === 0;
  if (field.resolvedType instanceof protobuf.Type) return value == null;
  if (field.hasPresence) return !isSet(message, field);
  return !options.emitDefaults && isDefault(value ?? field.typeDefault);
}

function isDefault(value: unknown): boolean {
  if (value instanceof Uint8Array || Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object' && value !== null) return String(value) === '0'; // a Long
  return value === 0 || value === '' || value === false;
}

/** A field's whole value as JSON; a missing scalar is its default. */
function fieldToJson(field: protobuf.Field, value: unknown, options: ToJsonOptions): unknown {
  if (field.map) {
    const keyType = keyTypeOf(field);
    const entries = Object.entries((value ?? {}) as Obj);
    if (options.mapEntries) {
      return entries.map(([key, item]) => ({
        key: mapKeyToEntry(keyType, mapKeyToJson(keyType, key)),
        value: elementToJson(field, item, options),
      }));
    }
    return Object.fromEntries(
      entries.map(([key, item]) => [
        mapKeyToJson(keyType, key),
        elementToJson(field, item, options),
      ]),
    );
  }
  if (field.repeated)
    return ((value ?? []) as unknown[]).map((item) => elementToJson(field, item, options));
  return elementToJson(field, value ?? field.typeDefault, options);
}

/**
 * Decoded maps key 64-bit integers by protobufjs's 8-character hash of the Long; fromObject
 * keeps the decimal strings it was given. Bool keys are "true"/"false" after decoding, and
 * "true"/"" as mapKeyFromJson writes them.
 */
function mapKeyToJson(keyType: string, key: string): string {
  if (keyType === 'bool') return key === 'true' ? 'true' : 'false';
  const integer = INTEGER_KINDS.get(keyType);
  if (integer?.long && !DECIMAL.test(key))
    return String(protobuf.util.longFromHash(key, integer.min === 0n));
  return key;
}

/** An entry's key is the JSON value of the key type, no longer forced to a string. */
function mapKeyToEntry(keyType: string, key: string): unknown {
  if (keyType === 'bool') return key === 'true';
  return INTEGER_KINDS.get(keyType)?.long === false ? Number(key) : key;
}

function elementToJson(field: protobuf.Field, value: unknown, options: ToJsonOptions): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return toProtoJson(resolved, value as Obj, options);
  if (resolved instanceof protobuf.Enum) {
    if (resolved.fullName === NULL_VALUE) return null;
    // An unknown number (a newer server's value) stays a number.
    return resolved.valuesById[value as number] ?? value;
  }
  return scalarToJson(field.type, value);
}

function scalarToJson(type: string, value: unknown): unknown {
  if (INTEGER_KINDS.get(type)?.long) return String(value);
  switch (type) {
    case 'double':
      return Number.isFinite(value) ? value : String(value);
    case 'float':
      return Number.isFinite(value) ? shortestFloat(value as number) : String(value);
    case 'bytes':
      return encodeBase64(value as Uint8Array);
    default:
      return value;
  }
}

/**
 * A decoded float is widened to a double (0.1 becomes 0.10000000149011612); protoc prints the
 * shortest decimal that reads back as the same float.
 */
function shortestFloat(value: number): number {
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Well-known types: the rows from Any on in https://protobuf.dev/programming-guides/json/

interface WellKnown {
  fromJson(type: protobuf.Type, json: unknown, path: string, options: FromJsonOptions): Obj;
  toJson(type: protobuf.Type, message: Obj, options: ToJsonOptions): unknown;
}

/** Types whose JSON is the JSON of their one field: wrappers (`value`), Struct, ListValue. */
function unwrapped(key: string): WellKnown {
  return {
    fromJson: (type, json, path, options) => {
      const field = fieldOf(type, key);
      return { [field.name]: fieldFromJson(field, json, path, options) };
    },
    toJson: (type, message, options) => {
      const field = fieldOf(type, key);
      return fieldToJson(field, message[field.name], options);
    },
  };
}

/** Value: any JSON value, each kind in its own member of the `kind` oneof. */
const value: WellKnown = {
  fromJson: (type, json, path, options) => {
    const field = fieldOf(type, valueKind(json));
    return { [field.name]: fieldValueFromJson(field, json, path, options) };
  },
  toJson: (type, message, options) => {
    const field = type.fieldsArray.find((member) => isSet(message, member));
    return field ? elementToJson(field, message[field.name], options) : null;
  },
};

function valueKind(json: unknown): string {
  if (json === null) return 'nullValue';
  if (Array.isArray(json)) return 'listValue';
  switch (typeof json) {
    case 'number':
      return 'numberValue';
    case 'string':
      return 'stringValue';
    case 'boolean':
      return 'boolValue';
    default:
      return 'structValue';
  }
}

/** RFC 3339 with any offset and 0-9 fractional digits; years 0001 to 9999. */
const TIMESTAMP =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;
const MIN_TIMESTAMP = -62_135_596_800; // 0001-01-01T00:00:00Z
const MAX_TIMESTAMP = 253_402_300_799; // 9999-12-31T23:59:59Z
const TIMESTAMP_EXAMPLE = 'an RFC 3339 timestamp such as "1972-01-01T10:00:20.021Z"';

const timestamp: WellKnown = {
  fromJson: (type, json, path) => {
    const { seconds, nanos } = timestampFromJson(json, path);
    return pack(type, { seconds: String(seconds), nanos });
  },
  toJson: (type, message) =>
    timestampToJson(
      Number(String(read(type, message, 'seconds') ?? 0)),
      Number(read(type, message, 'nanos') ?? 0),
    ),
};

function timestampFromJson(json: unknown, path: string): { seconds: number; nanos: number } {
  const parsed = typeof json === 'string' ? parseTimestamp(json) : undefined;
  if (!parsed) throw mismatch(path, TIMESTAMP_EXAMPLE, json);
  if (parsed.seconds < MIN_TIMESTAMP || parsed.seconds > MAX_TIMESTAMP)
    throw mismatch(path, 'a timestamp in the years 0001 to 9999', json);
  return parsed;
}

function timestampToJson(seconds: number, nanos: number): string {
  // toISOString gives "1972-01-01T10:00:20.000Z"; the fraction is rewritten to protoc's width.
  return `${new Date(seconds * 1000).toISOString().slice(0, 19)}${fraction(nanos)}Z`;
}

/** Seconds since the epoch and nanos, or undefined for a time that does not exist (Feb 30). */
function parseTimestamp(text: string): { seconds: number; nanos: number } | undefined {
  const match = TIMESTAMP.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [digits, sign, offsetHours = '0', offsetMinutes = '0'] = match.slice(7);
  // setUTCFullYear, unlike Date.UTC, does not read years 0-99 as 1900-1999; a day past the
  // month's end rolls over into the next month, which the check below catches.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  const exists =
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    hour < 24 &&
    minute < 60 &&
    second < 60 &&
    Number(offsetHours) < 24 &&
    Number(offsetMinutes) < 60;
  if (!exists) return undefined;
  const offset =
    (sign === '-' ? -1 : 1) * (Number(offsetHours) * 3600 + Number(offsetMinutes) * 60);
  return {
    seconds: date.getTime() / 1000 + hour * 3600 + minute * 60 + second - offset,
    nanos: nanosOf(digits),
  };
}

function nanosOf(digits: string | undefined): number {
  return digits === undefined ? 0 : Number(digits.padEnd(9, '0'));
}

/** protoc prints 0, 3, 6 or 9 fractional digits: as few as keep the value exact. */
function fraction(nanos: number): string {
  if (nanos === 0) return '';
  const digits = String(nanos).padStart(9, '0');
  if (nanos % 1_000_000 === 0) return `.${digits.slice(0, 3)}`;
  if (nanos % 1_000 === 0) return `.${digits.slice(0, 6)}`;
  return `.${digits}`;
}

const DURATION = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;
/** ±10,000 years, the range the spec gives Duration. */
const MAX_DURATION_SECONDS = 315_576_000_000n;

/** Duration: seconds with an `s` suffix; a negative duration has the sign on both parts. */
const duration: WellKnown = {
  fromJson: (type, json, path) => pack(type, durationFromJson(json, path)),
  toJson: (type, message) =>
    durationToJson(
      String(read(type, message, 'seconds') ?? 0),
      Number(read(type, message, 'nanos') ?? 0),
    ),
};

function durationFromJson(json: unknown, path: string): { seconds: string; nanos: number } {
  const match = typeof json === 'string' ? DURATION.exec(json) : null;
  if (!match) throw mismatch(path, 'a duration such as "1.5s"', json);
  const seconds = BigInt(match[2] ?? '0');
  if (seconds > MAX_DURATION_SECONDS) throw mismatch(path, 'a duration within 10000 years', json);
  const nanos = nanosOf(match[3]);
  return match[1]
    ? { seconds: String(0n - seconds), nanos: 0 - nanos }
    : { seconds: String(seconds), nanos };
}

/** `seconds` is a decimal string (an int64); the sign shows once, on the whole duration. */
function durationToJson(seconds: string, nanos: number): string {
  const sign = seconds.startsWith('-') || nanos < 0 ? '-' : '';
  return `${sign}${seconds.replace('-', '')}${fraction(Math.abs(nanos))}s`;
}

/** FieldMask: one string, paths separated by commas, each in lowerCamelCase. */
const fieldMask: WellKnown = {
  fromJson: (type, json, path) => {
    if (typeof json !== 'string' || json.includes('_'))
      throw mismatch(path, 'comma-separated lowerCamelCase field paths', json);
    const paths =
      json === ''
        ? []
        : json.split(',').map((p) => p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
    return pack(type, { paths });
  },
  toJson: (type, message) =>
    ((read(type, message, 'paths') ?? []) as string[]).map(lowerCamel).join(','),
};

/**
 * Any: `{"@type": url, ...the packed message's JSON}`, or `{"@type": url, "value": json}` when
 * the packed message is a well-known type with a JSON form of its own. The packed type is the
 * URL's last segment, looked up in the protos the type was loaded with (the registry the spec
 * asks for). A type they do not hold is refused as input and written as its bytes in base64
 * under `value`, so that a reply is never lost for want of a proto.
 */
const any: WellKnown = {
  fromJson: (type, json, path, options) => {
    if (!isObject(json)) throw mismatch(path, 'a JSON object with "@type"', json);
    if (Object.keys(json).length === 0) return {};
    const url = json['@type'];
    const at = joinPath(path, '@type');
    if (typeof url !== 'string') throw mismatch(at, 'a type URL', url);
    const packed = packedType(type, url);
    if (!packed) throw new JsonMappingError(at, `no loaded proto defines ${describe(url)}`);
    const { '@type': _url, ...fields } = json;
    const object = WELL_KNOWN.has(packed.fullName)
      ? fromProtoJson(packed, fields.value, options, joinPath(path, 'value'))
      : fromProtoJson(packed, fields, options, path);
    return pack(type, { typeUrl: url, value: packed.encode(packed.fromObject(object)).finish() });
  },
  toJson: (type, message, options) => {
    const url = String(read(type, message, 'typeUrl') ?? '');
    const bytes = (read(type, message, 'value') ?? []) as Uint8Array | number[];
    if (url === '' && bytes.length === 0) return {};
    const packed = packedType(type, url);
    const decoded = packed && decodeOrUndefined(packed, bytes);
    if (!packed || !decoded) return { '@type': url, value: encodeBase64(bytes) };
    const json = toProtoJson(packed, decoded, options);
    return WELL_KNOWN.has(packed.fullName)
      ? { '@type': url, value: json }
      : { '@type': url, ...(json as Obj) };
  },
};

/** `type.googleapis.com/shop.v1.Item` -> shop.v1.Item, from the root `any` was loaded into. */
function packedType(any: protobuf.Type, url: string): protobuf.Type | undefined {
  const name = url.slice(url.lastIndexOf('/') + 1);
  if (name === '') return undefined;
  const found = any.root.lookup(`.${name}`, [protobuf.Type]);
  return found instanceof protobuf.Type ? found : undefined;
}

/** Bytes that are not the packed type's message are passed on as bytes, never a failure. */
function decodeOrUndefined(type: protobuf.Type, bytes: Uint8Array | number[]): Obj | undefined {
  try {
    return type.decode(Uint8Array.from(bytes)) as unknown as Obj;
  } catch {
    return undefined;
  }
}

const WRAPPERS = [
  'DoubleValue',
  'FloatValue',
  'Int64Value',
  'UInt64Value',
  'Int32Value',
  'UInt32Value',
  'BoolValue',
  'StringValue',
  'BytesValue',
];

/** By full name. Empty needs no entry: as a message with no fields, its JSON is `{}`. */
const WELL_KNOWN = new Map<string, WellKnown>([
  ['.google.protobuf.Timestamp', timestamp],
  ['.google.protobuf.Duration', duration],
  ['.google.protobuf.Struct', unwrapped('fields')],
  ['.google.protobuf.ListValue', unwrapped('values')],
  [VALUE, value],
  ['.google.protobuf.FieldMask', fieldMask],
  ['.google.protobuf.Any', any],
  ...WRAPPERS.map((name): [string, WellKnown] => [`.google.protobuf.${name}`, unwrapped('value')]),
]);

// ---------------------------------------------------------------------------------------------
// Canonical strings: a value read and written back, as protoc would print it. The gRPC adapter's
// GraphQL scalars are these, so a DateTime, Duration, Int64 or Base64 in a GraphQL answer is
// the string the same value has in transcoded JSON. Each throws JsonMappingError at `path`.

/** RFC 3339 with any offset -> Z-normalised, 0, 3, 6 or 9 fraction digits. */
export function canonicalTimestamp(json: unknown, path: string): string {
  const { seconds, nanos } = timestampFromJson(json, path);
  return timestampToJson(seconds, nanos);
}

/** "1.5s" -> "1.500s", "-0.5s" -> "-0.500s". */
export function canonicalDuration(json: unknown, path: string): string {
  const { seconds, nanos } = durationFromJson(json, path);
  return durationToJson(seconds, nanos);
}

/** Any 64-bit integer, signed or unsigned (the field it goes to checks which), in decimal. */
const ANY_64: IntegerKind = { ...INT64, max: UINT64.max };

/** A number or a string such as "-9223372036854775808" or "1e3" -> the decimal string. */
export function canonicalInt64(json: unknown, path: string): string {
  return String(integerFromJson(ANY_64, json, path));
}

/** Standard or URL-safe base64, padded or not -> standard with padding. */
export function canonicalBytes(json: unknown, path: string): string {
  return encodeBase64(bytesFromJson(json, path));
}
