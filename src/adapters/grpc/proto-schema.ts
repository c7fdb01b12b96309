import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import protobuf from 'protobufjs';
import { displayPath } from '../../config/errors.ts';

/**
 * Protos to the gRPC adapter's GraphQL SDL. Scalars follow the proto3 JSON mapping
 * (https://protobuf.dev/programming-guides/json/; values.ts converts with proto-json.ts): 64-bit
 * integers travel as strings (`Int64`), bytes as base64 (`Base64`), Timestamp as an RFC 3339
 * `DateTime`, Duration as a string such as "1.5s" (`Duration`), FieldMask as its string,
 * wrapper types as nullable scalars, Struct/Value/ListValue/Any as `JSON`. Maps become lists of `{ key, value }` entries; oneof members become nullable fields
 * of which at most one is set; proto3 `optional` fields are nullable, other scalars non-null.
 */

/** google/api/{annotations,http}.proto, shipped for protos that annotate HTTP bindings. */
export const BUILTIN_PROTOS = join(import.meta.dirname, 'builtin');

export interface LoadedProtos {
  root: protobuf.Root;
  services: protobuf.Service[];
}

export class ProtoLoadError extends Error {}

/** Loads proto files against include directories; google/protobuf/* come from protobufjs. */
export function loadProtos(
  files: readonly string[],
  includeDirs: readonly string[],
  /** Keep proto field names (`user_id`) instead of camelCase: the transcoder needs both forms. */
  keepCase = false,
): LoadedProtos {
  const root = new protobuf.Root();
  // protobufjs parses each file right after resolving it: the last path resolved is the file a
  // syntax error is in (its messages name only the line).
  let parsing = '';
  root.resolvePath = (origin, target) => {
    if (isAbsolute(target)) return (parsing = target);
    for (const dir of includeDirs) {
      const candidate = resolve(dir, target);
      if (existsSync(candidate)) return (parsing = candidate);
    }
    // google/api/{http,annotations}.proto ship with the gateway, for protos that annotate HTTP
    // bindings; google/protobuf/* are built into protobufjs under their import path.
    const builtin = resolve(BUILTIN_PROTOS, target);
    if (target.startsWith('google/api/') && existsSync(builtin)) return (parsing = builtin);
    if (target.startsWith('google/protobuf/')) return target;
    throw new ProtoLoadError(
      `cannot find import "${target}" (from ${origin || 'the config'}) in ${includeDirs.join(', ')}`,
    );
  };
  try {
    root.loadSync([...files], { keepCase });
    root.resolveAll();
  } catch (error) {
    if (error instanceof ProtoLoadError) throw error;
    const message = (error as Error).message;
    const line = / \(line (\d+)\)$/.exec(message);
    if (line)
      throw new ProtoLoadError(
        `${displayPath(parsing)}:${line[1]}: ${message.slice(0, line.index)}`,
      );
    throw new ProtoLoadError(describeUnresolved(root) ?? message);
  }
  const services: protobuf.Service[] = [];
  const walk = (ns: protobuf.NamespaceBase) => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Service) services.push(nested);
      else if (nested instanceof protobuf.Namespace) walk(nested);
    }
  };
  walk(root);
  return { root, services };
}

/**
 * An unknown type, said where it is written: `orders.proto:12:3: unknown type "Foo" (field
 * demo.v1.Order.bar)`. protobufjs resolves type names only after every file is parsed, and its
 * error names the type and the message but neither the field nor a position, so each field and
 * method is resolved again on its own to find the first that fails; its file is the `filename`
 * the parser left on it, and its line comes from scanning that file for the declaration (see
 * declarationAt). Undefined when nothing fails on its own (then the original message stands).
 */
function describeUnresolved(root: protobuf.Root): string | undefined {
  const failing = findUnresolved(root);
  if (!failing) return undefined;
  const { object, typeName, what } = failing;
  const file = object.filename ?? object.parent?.filename ?? undefined;
  const description = `unknown type "${typeName}" (${what} ${object.fullName.replace(/^\./, '')})`;
  if (!file || !existsSync(file)) return description;
  const at = declarationAt(readFileSync(file, 'utf8'), failing);
  return `${displayPath(file)}${at ? `:${at.line}:${at.column}` : ''}: ${description}`;
}

interface Unresolved {
  object: protobuf.ReflectionObject;
  /** The type name as written in the proto. */
  typeName: string;
  what: 'field' | 'method';
}

/** The first field or method, in declaration order, whose type does not resolve. */
function findUnresolved(ns: protobuf.NamespaceBase): Unresolved | undefined {
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type) {
      for (const field of nested.fieldsArray) {
        try {
          field.resolve();
        } catch {
          return { object: field, typeName: field.type, what: 'field' };
        }
      }
    }
    if (nested instanceof protobuf.Service) {
      for (const method of nested.methodsArray) {
        for (const typeName of [method.requestType, method.responseType]) {
          try {
            method.parent?.lookupType(typeName);
          } catch {
            return { object: method, typeName, what: 'method' };
          }
        }
      }
    }
    if (nested instanceof protobuf.Namespace) {
      const found = findUnresolved(nested);
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * Where a declaration is in its file's text, 1-based, at the type name. protobufjs keeps no
 * positions, so the text is scanned: a field for `<type>[>] <name> = <id>` (the `>` closes a
 * `map<k, v>`, whose value type is the one named; any name, since protobufjs may have camelCased
 * it, and the number is unique in its message), a method for `rpc <name>(`, each searched
 * from its parent's `message <name>` or `service <name>` line so that a field declared alike in
 * an earlier message is not taken. A declaration split across lines is not found.
 */
function declarationAt(
  text: string,
  { object, typeName, what }: Unresolved,
): { line: number; column: number } | undefined {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const parentKeyword = what === 'field' ? 'message' : 'service';
  const parent = object.parent
    ? new RegExp(`\\b${parentKeyword}\\s+${escape(object.parent.name)}\\s*\\{`).exec(text)
    : null;
  const from = parent?.index ?? 0;
  const pattern =
    what === 'field'
      ? new RegExp(
          `(?<![\\w.])${escape(typeName)}\\s*>?\\s+[A-Za-z_]\\w*\\s*=\\s*${(object as protobuf.Field).id}\\b`,
        )
      : new RegExp(`\\brpc\\s+${escape(object.name)}\\s*\\(`);
  const found = pattern.exec(text.slice(from));
  if (!found) return undefined;
  const offset = from + found.index;
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

export type Operation = 'query' | 'mutation';

export interface MethodMapping {
  service: protobuf.Service;
  method: protobuf.Method;
  /** `Query` or `Mutation`. */
  operation: Operation;
  field: string;
  /** Server streaming: the field is a list of up to `maxMessages` responses. */
  streaming: boolean;
}

export interface GeneratedSchema {
  sdl: string;
  methods: MethodMapping[];
  unsupported: string[];
  /** Enums whose values lost their prefix: GraphQL value -> proto value name. */
  enumValues: Map<string, Record<string, string>>;
}

const READ_PREFIXES = /^(Get|List|Batch|Search)/;

const WRAPPERS: Record<string, string> = {
  '.google.protobuf.DoubleValue': 'Float',
  '.google.protobuf.FloatValue': 'Float',
  '.google.protobuf.Int64Value': 'Int64',
  '.google.protobuf.UInt64Value': 'Int64',
  '.google.protobuf.Int32Value': 'Int',
  '.google.protobuf.UInt32Value': 'Float',
  '.google.protobuf.BoolValue': 'Boolean',
  '.google.protobuf.StringValue': 'String',
  '.google.protobuf.BytesValue': 'Base64',
};
const WELL_KNOWN: Record<string, string> = {
  '.google.protobuf.Timestamp': 'DateTime',
  '.google.protobuf.Duration': 'Duration',
  '.google.protobuf.Struct': 'JSON',
  '.google.protobuf.Value': 'JSON',
  '.google.protobuf.ListValue': 'JSON',
  '.google.protobuf.FieldMask': 'String',
  // {"@type": url, ...}: its fields depend on the packed type, so no object type can hold it.
  '.google.protobuf.Any': 'JSON',
};
const SCALARS: Record<string, string> = {
  double: 'Float',
  float: 'Float',
  int32: 'Int',
  sint32: 'Int',
  sfixed32: 'Int',
  // Unsigned 32-bit values exceed GraphQL's signed Int; Float holds them exactly.
  uint32: 'Float',
  fixed32: 'Float',
  int64: 'Int64',
  sint64: 'Int64',
  sfixed64: 'Int64',
  uint64: 'Int64',
  fixed64: 'Int64',
  bool: 'Boolean',
  string: 'String',
  bytes: 'Base64',
};

export const CUSTOM_SCALARS = ['Int64', 'Base64', 'DateTime', 'Duration', 'JSON'] as const;

export function isEmptyMessage(type: protobuf.Type): boolean {
  return type.fullName === '.google.protobuf.Empty' || type.fieldsArray.length === 0;
}

/** True for a field whose absence is observable: proto3 `optional` or a member of a real oneof. */
export function hasPresence(field: protobuf.Field): boolean {
  return field.partOf !== null || field.options?.proto3_optional === true;
}

export function protosToSdl(
  loaded: LoadedProtos,
  overrides: Readonly<Record<string, Operation>> = {},
): GeneratedSchema {
  const unsupported: string[] = [];
  const outputs = new Map<string, string>();
  const inputs = new Map<string, string>();
  const enums = new Map<string, string>();
  const enumValues = new Map<string, Record<string, string>>();
  const usedScalars = new Set<string>();
  const typeNames = new Map<string, string>();

  /** Short names where they are unique, package-qualified where two packages collide. */
  const nameOf = (type: protobuf.ReflectionObject): string => {
    let name = typeNames.get(type.fullName);
    if (!name) {
      name = type.name;
      const taken = [...typeNames.entries()].some(
        ([full, n]) => n === name && full !== type.fullName,
      );
      if (taken) name = type.fullName.split('.').filter(Boolean).map(pascal).join('');
      typeNames.set(type.fullName, name);
    }
    return name;
  };

  const scalar = (name: string) => {
    if ((CUSTOM_SCALARS as readonly string[]).includes(name)) usedScalars.add(name);
    return name;
  };

  const fieldType = (field: protobuf.Field, mode: 'output' | 'input', owner: string): string => {
    if (field.map) {
      const entry = `${owner}${pascal(field.name)}Entry${mode === 'input' ? 'Input' : ''}`;
      const keyType = scalar(SCALARS[(field as unknown as protobuf.MapField).keyType] ?? 'String');
      const value = valueType(field, mode);
      const target = mode === 'output' ? outputs : inputs;
      if (!target.has(entry)) {
        target.set(
          entry,
          `${mode === 'output' ? 'type' : 'input'} ${entry} {\n  key: ${keyType}!\n  value: ${value}\n}`,
        );
      }
      return mode === 'output' ? `[${entry}!]!` : `[${entry}!]`;
    }
    const base = valueType(field, mode);
    // Output lists are never null (proto3 has no absent list); input lists may be left out.
    if (field.repeated) return `[${base.replace(/!$/, '')}!]${mode === 'output' ? '!' : ''}`;
    return base;
  };

  /** The GraphQL type of one value of the field, `!` when proto3 always has a value. */
  const valueType = (field: protobuf.Field, mode: 'output' | 'input'): string => {
    const resolved = field.resolvedType;
    const required = mode === 'output' && !hasPresence(field);
    if (resolved instanceof protobuf.Enum) return `${enumType(resolved)}${required ? '!' : ''}`;
    if (resolved instanceof protobuf.Type) {
      const known = WRAPPERS[resolved.fullName] ?? WELL_KNOWN[resolved.fullName];
      if (known) return scalar(known);
      return messageType(resolved, mode);
    }
    const mapped = SCALARS[field.type];
    if (!mapped) {
      unsupported.push(`field ${field.fullName} of type ${field.type}: mapped to JSON`);
      return scalar('JSON');
    }
    return `${scalar(mapped)}${required ? '!' : ''}`;
  };

  const enumType = (type: protobuf.Enum): string => {
    const name = nameOf(type);
    if (!enums.has(name)) {
      // ORDER_STATUS_PENDING -> PENDING when every value carries the enum's name as a prefix
      // (the protobuf style guide's convention); the resolvers map the names back.
      const prefix = `${type.name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}_`;
      const values = Object.keys(type.values);
      const strip = values.every(
        (v) => v.startsWith(prefix) && /^[A-Za-z_]/.test(v.slice(prefix.length)),
      );
      const graphqlValues = values.map((v) => (strip ? v.slice(prefix.length) : v));
      if (strip)
        enumValues.set(
          name,
          Object.fromEntries(graphqlValues.map((g, i) => [g, values[i] as string])),
        );
      enums.set(name, `enum ${name} {\n${graphqlValues.map((v) => `  ${v}`).join('\n')}\n}`);
    }
    return name;
  };

  const fieldsOf = (type: protobuf.Type, mode: 'output' | 'input', owner: string) =>
    type.fieldsArray.map((field) => `  ${field.name}: ${fieldType(field, mode, owner)}`);

  const messageType = (type: protobuf.Type, mode: 'output' | 'input'): string => {
    if (isEmptyMessage(type)) return scalar('JSON');
    const name = mode === 'output' ? nameOf(type) : `${nameOf(type)}Input`;
    const target = mode === 'output' ? outputs : inputs;
    if (!target.has(name)) {
      target.set(name, '');
      target.set(
        name,
        `${mode === 'output' ? 'type' : 'input'} ${name} {\n${fieldsOf(type, mode, nameOf(type)).join('\n')}\n}`,
      );
    }
    return name;
  };

  const methods: MethodMapping[] = [];
  const fields: Record<Operation, string[]> = { query: [], mutation: [] };
  const taken = new Set<string>();
  for (const service of loaded.services) {
    for (const method of service.methodsArray) {
      if (method.requestStream) {
        unsupported.push(
          `method ${service.fullName.slice(1)}/${method.name}: client and bidirectional streaming are not mapped`,
        );
        continue;
      }
      const operation =
        overrides[method.name] ??
        (READ_PREFIXES.test(method.name) && !method.responseStream
          ? 'query'
          : method.responseStream
            ? 'query'
            : 'mutation');
      let field = camel(method.name);
      while (taken.has(field)) field = `${camel(service.name)}${pascal(field)}`;
      taken.add(field);
      const request = method.resolvedRequestType as protobuf.Type;
      const response = method.resolvedResponseType as protobuf.Type;
      const args = request.fieldsArray.map(
        (f) => `${f.name}: ${argumentType(fieldType(f, 'input', nameOf(request)))}`,
      );
      const returns = isEmptyMessage(response) ? 'Boolean' : messageType(response, 'output');
      fields[operation].push(
        `  ${field}${args.length ? `(${args.join(', ')})` : ''}: ${method.responseStream ? `[${returns}!]` : returns}`,
      );
      methods.push({
        service,
        method,
        operation,
        field,
        streaming: Boolean(method.responseStream),
      });
    }
  }

  const blocks = [
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])',
    ...[...usedScalars].sort().map((s) => `scalar ${s}`),
    `type Query {\n${fields.query.length ? fields.query.join('\n') : '  _empty: Boolean'}\n}`,
    ...(fields.mutation.length ? [`type Mutation {\n${fields.mutation.join('\n')}\n}`] : []),
    ...[...outputs.values(), ...inputs.values(), ...enums.values()].filter(Boolean),
  ];
  return { sdl: `${blocks.join('\n\n')}\n`, methods, unsupported, enumValues };
}

/**
 * Arguments are all optional: on the wire every proto3 field is, and an absent one reads as its
 * default, so a client sends only what it means.
 */
function argumentType(type: string): string {
  return type.replace(/!$/, '');
}

function pascal(text: string): string {
  return text ? text[0]!.toUpperCase() + text.slice(1) : text;
}

function camel(text: string): string {
  return text ? text[0]!.toLowerCase() + text.slice(1) : text;
}
