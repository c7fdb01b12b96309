import {
  Kind,
  visit,
  type ConstDirectiveNode,
  type ConstValueNode,
  type DocumentNode,
  type FieldDefinitionNode,
  type InputObjectTypeDefinitionNode,
  type ObjectTypeDefinitionNode,
  type ObjectTypeExtensionNode,
  type TypeNode,
} from 'graphql';
import { ConfigError, type ConfigIssue } from '../../config/errors.ts';
import type { FieldLimit } from '../../kernel/field-limit.ts';
import { ENTITY_LIMITS, readEntityLimits, type EntityResolution } from '../entity-loader.ts';
import { RATE_LIMIT_DIRECTIVE, readFieldLimits } from '../rate-limit-directive.ts';
import { issueAt, type Located } from '../sdl-issue.ts';
import {
  parseTemplate,
  placeholders,
  TemplateError,
  type Scope,
  type Template,
} from '../template.ts';

/**
 * The REST adapter's SDL directives (docs/adapters.md, "REST adapter"):
 *
 *   field @rest(get|post|put|patch|delete: "/path/{args.id}", query: {...}, headers: {...},
 *               body: "{args.input}" | {...}, select: "data.items")
 *   type  @restEntity(get: "/users", query: { ids: "{keys.id}" }, maxBatch: 50)   batch
 *   type  @restEntity(get: "/users/{key.id}", concurrency: 8)                     one call per key
 *   field @restField(from: "json_name")                                          rename
 *   field @rateLimit(window: "1m", max: 2)           per caller (rate-limit-directive.ts)
 *
 * They are read here, validated against the SDL (every placeholder must name an argument, a
 * field of the parent type or a key field), and stripped before composition: the supergraph
 * never sees them.
 */
export const REST_DIRECTIVES: ReadonlySet<string> = new Set(['rest', 'restEntity', 'restField']);

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

export type BodyTemplate = Template | { readonly [key: string]: BodyTemplate };

export interface RestCall {
  readonly method: HttpMethod;
  readonly path: Template;
  readonly query: readonly (readonly [string, Template])[];
  readonly headers: readonly (readonly [string, Template])[];
  readonly body?: BodyTemplate;
  /** Where the result sits in the response JSON. */
  readonly select: readonly string[];
  /** `GET /users/{args.id}`: names the call in errors and logs without its values. */
  readonly label: string;
}

/** How references to an entity type resolve (entity-loader.ts): a call and its limits. */
export interface EntityCall extends RestCall, EntityResolution {}

export interface RestMapping {
  /** By `Type.field`. */
  readonly fields: ReadonlyMap<string, RestCall>;
  /** By type name. */
  readonly entities: ReadonlyMap<string, EntityCall>;
  /** JSON property names by `Type.field`, where they differ from the field name. */
  readonly renames: ReadonlyMap<string, string>;
  /** `@rateLimit` by `Type.field`. */
  readonly limits: ReadonlyMap<string, FieldLimit>;
  /** The SDL without the adapter's directives, locations intact. */
  readonly document: DocumentNode;
}

type ObjectNode = ObjectTypeDefinitionNode | ObjectTypeExtensionNode;

export function readRestMapping(document: DocumentNode, file: string): RestMapping {
  const issues: ConfigIssue[] = [];
  const objects = new Map<string, ObjectNode[]>();
  const inputs = new Map<string, InputObjectTypeDefinitionNode>();
  for (const def of document.definitions) {
    if (def.kind === Kind.OBJECT_TYPE_DEFINITION || def.kind === Kind.OBJECT_TYPE_EXTENSION) {
      objects.set(def.name.value, [...(objects.get(def.name.value) ?? []), def]);
    } else if (def.kind === Kind.INPUT_OBJECT_TYPE_DEFINITION) {
      inputs.set(def.name.value, def);
    }
  }
  const fieldsOf = (type: string) => (objects.get(type) ?? []).flatMap((n) => n.fields ?? []);

  const report = (node: Located, path: string, message: string) => {
    issues.push(issueAt(node, file, path, message));
  };

  const fields = new Map<string, RestCall>();
  const entities = new Map<string, EntityCall>();
  const renames = new Map<string, string>();

  for (const [typeName, nodes] of objects) {
    for (const node of nodes) {
      for (const directive of node.directives ?? []) {
        if (directive.name.value === 'restEntity') {
          const entity = readEntity(typeName, node, directive, fieldsOf(typeName), report);
          if (entity) entities.set(typeName, entity);
        } else if (REST_DIRECTIVES.has(directive.name.value)) {
          report(directive, typeName, `@${directive.name.value} belongs on a field, not a type`);
        }
      }
      for (const field of node.fields ?? []) {
        const where = `${typeName}.${field.name.value}`;
        for (const directive of field.directives ?? []) {
          if (directive.name.value === 'rest') {
            const call = readCall(where, directive, report, (p, arg) =>
              checkFieldPlaceholder(p, field, typeName, fieldsOf, inputs, arg, where, report),
            );
            if (call) fields.set(where, call);
          } else if (directive.name.value === 'restField') {
            const from = stringArg(directive, 'from');
            const unknown = directive.arguments?.find((a) => a.name.value !== 'from');
            if (unknown)
              report(
                unknown,
                where,
                `@restField has no argument "${unknown.name.value}"; it takes from`,
              );
            if (from === undefined)
              report(directive, where, '@restField needs from: "json_property"');
            else renames.set(where, from);
          } else if (directive.name.value === 'restEntity') {
            report(directive, where, '@restEntity belongs on an entity type, not a field');
          }
        }
      }
    }
  }

  for (const [typeName, nodes] of objects) {
    const resolvableKey = nodes.some((n) =>
      (n.directives ?? []).some(
        (d) => d.name.value === 'key' && boolArg(d, 'resolvable') !== false,
      ),
    );
    // A @restEntity that failed validation has its own error already.
    const declared = nodes.some((n) =>
      (n.directives ?? []).some((d) => d.name.value === 'restEntity'),
    );
    if (resolvableKey && !declared && typeName !== 'Query' && typeName !== 'Mutation') {
      report(
        nodes[0] as ObjectNode,
        typeName,
        `entity ${typeName} needs @restEntity to resolve references (or @key(..., resolvable: false))`,
      );
    }
  }

  const limits = readFieldLimits([...objects.values()].flat(), report);

  if (issues.length > 0) throw new ConfigError(issues);
  return { fields, entities, renames, limits, document: strip(document) };
}

type Report = (node: Located, path: string, message: string) => void;

const CALL_ARGS = new Set([
  'get',
  'post',
  'put',
  'patch',
  'delete',
  'query',
  'headers',
  'body',
  'select',
]);

function readCall(
  where: string,
  directive: ConstDirectiveNode,
  report: Report,
  check: (p: { scope: Scope; path: string[] }, arg: ConstValueNode) => void,
  extraArgs: ReadonlySet<string> = new Set(),
): RestCall | undefined {
  const args = new Map((directive.arguments ?? []).map((a) => [a.name.value, a.value]));
  for (const arg of directive.arguments ?? []) {
    if (!CALL_ARGS.has(arg.name.value) && !extraArgs.has(arg.name.value)) {
      report(arg, where, `@${directive.name.value} has no argument "${arg.name.value}"`);
    }
  }
  const methods = METHODS.filter((m) => args.has(m.toLowerCase()));
  if (methods.length !== 1) {
    report(
      directive,
      where,
      `@${directive.name.value} needs exactly one of get, post, put, patch, delete`,
    );
    return undefined;
  }
  const method = methods[0] as HttpMethod;
  const template = (node: ConstValueNode): Template | undefined => {
    if (node.kind !== Kind.STRING) {
      report(node, where, 'expected a string template');
      return undefined;
    }
    try {
      const parsed = parseTemplate(node.value);
      for (const p of placeholders(parsed)) check(p, node);
      return parsed;
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      report(node, where, error.message);
      return undefined;
    }
  };
  // { name: "{args.x}" } when the names are GraphQL names; [{ name: "x-mode", value: "..." }]
  // for names GraphQL cannot spell (HTTP headers, `page[size]`).
  const pairs = (name: string): [string, Template][] => {
    const node = args.get(name);
    if (!node) return [];
    if (node.kind === Kind.OBJECT) {
      return node.fields.flatMap((f) => {
        const t = template(f.value);
        return t ? [[f.name.value, t] as [string, Template]] : [];
      });
    }
    if (node.kind === Kind.LIST) {
      return node.values.flatMap((item) => {
        const fields =
          item.kind === Kind.OBJECT
            ? new Map(item.fields.map((f) => [f.name.value, f.value]))
            : undefined;
        const key = fields?.get('name');
        const value = fields?.get('value');
        if (key?.kind !== Kind.STRING || !value || fields?.size !== 2) {
          report(item, where, `${name} entries are { name: "...", value: "..." }`);
          return [];
        }
        const t = template(value);
        return t ? [[key.value, t] as [string, Template]] : [];
      });
    }
    report(
      node,
      where,
      `${name} expects { name: "{args.name}" } or [{ name: "...", value: "..." }]`,
    );
    return [];
  };
  const body = (node: ConstValueNode): BodyTemplate | undefined => {
    if (node.kind === Kind.OBJECT) {
      return Object.fromEntries(
        node.fields.flatMap((f) => {
          const value = body(f.value);
          return value ? [[f.name.value, value]] : [];
        }),
      );
    }
    return template(node);
  };
  const path = template(args.get(method.toLowerCase()) as ConstValueNode);
  const selectNode = args.get('select');
  const select =
    selectNode?.kind === Kind.STRING ? selectNode.value.split('.').filter(Boolean) : [];
  if (selectNode && selectNode.kind !== Kind.STRING)
    report(selectNode, where, 'select expects a dotted path string');
  const bodyNode = args.get('body');
  if (!path) return undefined;
  if (bodyNode && method === 'GET') report(bodyNode, where, 'a GET request has no body');
  return {
    method,
    path,
    query: pairs('query'),
    headers: pairs('headers'),
    ...(bodyNode ? { body: body(bodyNode) } : {}),
    select,
    label: `${method} ${path.source}`,
  };
}

function checkFieldPlaceholder(
  p: { scope: Scope; path: string[] },
  field: FieldDefinitionNode,
  typeName: string,
  fieldsOf: (type: string) => FieldDefinitionNode[],
  inputs: ReadonlyMap<string, InputObjectTypeDefinitionNode>,
  node: ConstValueNode,
  where: string,
  report: Report,
): void {
  const [first = '', second] = p.path;
  if (p.scope === 'args') {
    const arg = field.arguments?.find((a) => a.name.value === first);
    if (!arg) {
      const known = (field.arguments ?? []).map((a) => a.name.value);
      report(
        node,
        where,
        `{args.${first}}: ${where} has no argument "${first}"${known.length ? ` (it has ${known.join(', ')})` : ''}`,
      );
      return;
    }
    const input = inputs.get(namedType(arg.type));
    if (
      second !== undefined &&
      input &&
      !(input.fields ?? []).some((f) => f.name.value === second)
    ) {
      report(
        node,
        where,
        `{args.${first}.${second}}: input ${input.name.value} has no field "${second}"`,
      );
    }
  } else if (p.scope === 'parent') {
    if (typeName === 'Query' || typeName === 'Mutation') {
      report(node, where, `{parent.${first}}: root fields have no parent object`);
    } else if (!fieldsOf(typeName).some((f) => f.name.value === first)) {
      report(node, where, `{parent.${first}}: type ${typeName} has no field "${first}"`);
    }
  } else {
    report(node, where, `{${p.scope}.${first}} only applies in @restEntity`);
  }
}

function readEntity(
  typeName: string,
  node: ObjectNode,
  directive: ConstDirectiveNode,
  typeFields: FieldDefinitionNode[],
  report: Report,
): EntityCall | undefined {
  const key = node.directives?.find((d) => d.name.value === 'key');
  const keyFields = key ? (stringArg(key, 'fields') ?? '').split(/\s+/).filter(Boolean) : [];
  if (keyFields.length === 0) {
    report(directive, typeName, '@restEntity needs a @key on the same type');
    return undefined;
  }
  const scopes = new Set<Scope>();
  const call = readCall(
    typeName,
    directive,
    report,
    (p, arg) => {
      scopes.add(p.scope);
      if (p.scope !== 'key' && p.scope !== 'keys') {
        report(
          arg,
          typeName,
          `{${p.scope}.${p.path[0]}}: @restEntity templates use {key.field} or {keys.field}`,
        );
      } else if (!keyFields.includes(p.path[0] as string)) {
        report(
          arg,
          typeName,
          `{${p.scope}.${p.path[0]}}: "${p.path[0]}" is not a key field of ${typeName} (${keyFields.join(', ')})`,
        );
      }
    },
    ENTITY_LIMITS,
  );
  if (!call) return undefined;
  if (scopes.has('key') === scopes.has('keys')) {
    report(
      directive,
      typeName,
      '@restEntity uses either {key.*} (one call per key) or {keys.*} (one call per batch)',
    );
    return undefined;
  }
  for (const field of keyFields) {
    if (!typeFields.some((f) => f.name.value === field))
      report(directive, typeName, `key field "${field}" is not a field of ${typeName}`);
  }
  return {
    ...call,
    mode: scopes.has('keys') ? 'batch' : 'key',
    keyFields,
    ...readEntityLimits(directive, (node, message) => report(node, typeName, message)),
  };
}

/** The directives the adapter reads and composition must not see. */
const STRIPPED: ReadonlySet<string> = new Set([...REST_DIRECTIVES, RATE_LIMIT_DIRECTIVE]);

/** The SDL with the adapter's directives (uses and definitions) removed; other nodes keep their locations. */
function strip(document: DocumentNode): DocumentNode {
  return visit(document, {
    Directive: (node) => (STRIPPED.has(node.name.value) ? null : undefined),
    DirectiveDefinition: (node) => (STRIPPED.has(node.name.value) ? null : undefined),
  });
}

function namedType(type: TypeNode): string {
  return type.kind === Kind.NAMED_TYPE ? type.name.value : namedType(type.type);
}

function stringArg(directive: ConstDirectiveNode, name: string): string | undefined {
  const value = directive.arguments?.find((a) => a.name.value === name)?.value;
  return value?.kind === Kind.STRING ? value.value : undefined;
}

function boolArg(directive: ConstDirectiveNode, name: string): boolean | undefined {
  const value = directive.arguments?.find((a) => a.name.value === name)?.value;
  return value?.kind === Kind.BOOLEAN ? value.value : undefined;
}
