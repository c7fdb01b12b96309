import protobuf from 'protobufjs';
import type { HttpBinding } from './http-rule.ts';
import {
  fieldValueFromJson,
  fromProtoJson,
  jsonName,
  JsonMappingError,
} from '../adapters/grpc/proto-json.ts';

/**
 * An HTTP request to the gRPC request message, by the transcoding rules of google/api/http.proto:
 * path variables bind the fields they name; the body is the whole message (`body: "*"`), one
 * field (`body: "shelf"`), or absent; every field left over may come from a query parameter,
 * nested ones as `a.b=c`, repeated ones by repeating the parameter.
 */

type Obj = Record<string, unknown>;

/** Well-known types whose JSON form is a string, so a path or query value can hold them. */
const STRING_FORM = new Set([
  '.google.protobuf.Timestamp',
  '.google.protobuf.Duration',
  '.google.protobuf.FieldMask',
  '.google.protobuf.DoubleValue',
  '.google.protobuf.FloatValue',
  '.google.protobuf.Int64Value',
  '.google.protobuf.UInt64Value',
  '.google.protobuf.Int32Value',
  '.google.protobuf.UInt32Value',
  '.google.protobuf.BoolValue',
  '.google.protobuf.StringValue',
  '.google.protobuf.BytesValue',
]);

/** Whether a single string can set the field (a path variable or one query value). */
export function takesString(field: protobuf.Field): boolean {
  const resolved = field.resolvedType;
  return !(resolved instanceof protobuf.Type) || STRING_FORM.has(resolved.fullName);
}

/** Fields along a dotted path of proto names, or undefined where one is missing. */
export function fieldsAlong(
  type: protobuf.Type,
  path: readonly string[],
): protobuf.Field[] | undefined {
  const fields: protobuf.Field[] = [];
  let current: protobuf.Type | undefined = type;
  for (const name of path) {
    const field: protobuf.Field | undefined = current?.fields[name];
    if (!field) return undefined;
    fields.push(field);
    current = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
  }
  return fields;
}

/** A query key's fields: each part by its JSON name or its proto name. */
function queryFields(type: protobuf.Type, key: string): protobuf.Field[] | undefined {
  const fields: protobuf.Field[] = [];
  let current: protobuf.Type | undefined = type;
  for (const part of key.split('.')) {
    const field: protobuf.Field | undefined =
      current?.fields[part] ?? current?.fieldsArray.find((f) => jsonName(f) === part);
    if (!field) return undefined;
    fields.push(field);
    current = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
  }
  return fields;
}

/** Sets a value at a field path in a fromObject-ready object, creating parents. */
function setAt(target: Obj, fields: readonly protobuf.Field[], value: unknown): void {
  let current = target;
  for (const field of fields.slice(0, -1)) {
    const next = current[field.name];
    current = (next && typeof next === 'object' ? next : (current[field.name] = {})) as Obj;
  }
  current[(fields[fields.length - 1] as protobuf.Field).name] = value;
}

function jsonPathOf(fields: readonly protobuf.Field[]): string {
  return fields.map((f) => jsonName(f)).join('.');
}

export interface RequestParts {
  /** Path variable values by dotted field path (proto names). */
  pathValues: ReadonlyMap<string, string>;
  query: URLSearchParams;
  /** The parsed JSON body; undefined when the binding takes none or it was empty. */
  body: unknown;
  ignoreUnknownQuery: boolean;
}

/** Throws JsonMappingError naming the field (or query parameter) that does not fit. */
export function buildRequestMessage(
  type: protobuf.Type,
  binding: HttpBinding,
  parts: RequestParts,
): Obj {
  let message: Obj = {};
  const bound = new Set<string>();
  if (binding.body === '*') {
    message = fromProtoJson(type, parts.body ?? {});
  } else if (binding.body !== undefined && parts.body !== undefined) {
    const fields = fieldsAlong(type, binding.body.split('.')) as protobuf.Field[];
    const field = fields[fields.length - 1] as protobuf.Field;
    setAt(message, fields, bodyFieldValue(field, parts.body, jsonPathOf(fields)));
  }
  if (binding.body !== undefined && binding.body !== '*') bound.add(binding.body);
  for (const [path, value] of parts.pathValues) {
    const fields = fieldsAlong(type, path.split('.')) as protobuf.Field[];
    const field = fields[fields.length - 1] as protobuf.Field;
    setAt(message, fields, fieldValueFromJson(field, value, jsonPathOf(fields)));
    bound.add(path);
  }
  // http.proto: with `body: "*"` every field not in the path is in the body; nothing is left
  // for query parameters.
  for (const key of new Set(parts.query.keys())) {
    const fields = binding.body === '*' ? undefined : queryFields(type, key);
    if (!fields) {
      if (parts.ignoreUnknownQuery) continue;
      throw new JsonMappingError(key, 'unknown query parameter');
    }
    const protoPath = fields.map((f) => f.name).join('.');
    if ([...bound].some((b) => protoPath === b || protoPath.startsWith(`${b}.`))) continue;
    const field = fields[fields.length - 1] as protobuf.Field;
    if (fields.slice(0, -1).some((f) => f.repeated) || field.map || !takesString(field))
      throw new JsonMappingError(key, 'cannot be set from a query parameter');
    const values = parts.query.getAll(key);
    const path = jsonPathOf(fields);
    if (field.repeated) {
      setAt(
        message,
        fields,
        values.map((v, i) => fieldValueFromJson(field, v, `${path}[${i}]`)),
      );
    } else {
      if (values.length > 1) throw new JsonMappingError(key, 'is not repeated; give it once');
      setAt(message, fields, fieldValueFromJson(field, values[0], path));
    }
  }
  return message;
}

function bodyFieldValue(field: protobuf.Field, json: unknown, path: string): unknown {
  const resolved = field.resolvedType;
  const one = (value: unknown, at: string) =>
    resolved instanceof protobuf.Type && !STRING_FORM.has(resolved.fullName)
      ? fromProtoJson(resolved, value, {}, at)
      : fieldValueFromJson(field, value, at);
  if (field.repeated) {
    if (!Array.isArray(json)) throw new JsonMappingError(path, 'expected a JSON array');
    return json.map((value, i) => one(value, `${path}[${i}]`));
  }
  return one(json, path);
}
