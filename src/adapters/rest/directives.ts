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
 *   field @restField(from: "json_name" | "address.city")                         rename, nested path
 *   field @restReference(key: { id: "{parent.product_id}" })   an entity of another subgraph
 *   field @rest(post: "/x", body: {...}, bodyType: FORM)        application/x-www-form-urlencoded
 *   field @rateLimit(window: "1m", max: 2)           per caller (rate-limit-directive.ts)
 *
 * They are read here, validated against the SDL (every placeholder must name an argument, a
 * field of the parent type or a key field), and stripped before composition: the supergraph
 * never sees them.
 */
export const REST_DIRECTIVES: ReadonlySet<string> = new Set([
  'rest',
  'restEntity',
  'restField',
  'restReference',
]);

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

export type BodyTemplate = Template | { readonly [key: string]: BodyTemplate };

export interface RestCall {
  readonly method: HttpMethod;
  readonly path: Template;
  readonly query: readonly (readonly [string, Template])[];
  readonly headers: readonly (readonly [string, Template])[];
  readonly body?: BodyTemplate;
  /** How the body is encoded: JSON (the default) or `bodyType: FORM`, URL-encoded form fields. */
  readonly bodyType: 'json' | 'form';
  /** Where the result sits in the response JSON. */
  readonly select: readonly string[];
  /** `GET /users/{args.id}`: names the call in errors and logs without its values. */
  readonly label: string;
}

/** How references to an entity type resolve (entity-loader.ts): a call and its limits. */
export interface EntityCall extends RestCall, EntityResolution {}

/**
 * A field that stands for an entity of another subgraph (`@restReference`): the entity's key,
 * rendered from the parent object, is all this subgraph answers; the gateway fetches the rest
 * from the subgraph that owns the entity.
 */
export interface RestReference {
  /** The entity type, as the field's type names it. */
  readonly type: string;
  /** Key field -> template over `{parent.*}`. */
  readonly key: readonly (readonly [string, Template])[];
  /** The field is a list: each key template yields a list, zipped into one reference per item. */
  readonly list: boolean;
}

export interface RestMapping {
  /** By `Type.field`. */
  readonly fields: ReadonlyMap<string, RestCall>;
  /** `@restReference` by `Type.field`. */
  readonly references: ReadonlyMap<string, RestReference>;
  /**
   * Entities without @restEntity, resolved from their key alone: a reference is the
   * representation itself, and every other field has a call of its own.
   */
  readonly keyOnly: ReadonlySet<string>;
  /** By type name. */
  readonly entities: ReadonlyMap<string, EntityCall>;
  /**
   * JSON property names by `Type.field`, where they differ from the field name: a dotted path
   * (`address.city`) reads inside a nested object.
   */
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
  const references = new Map<string, RestReference>();
  const keyOnly = new Set<string>();

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
        const used = (field.directives ?? []).filter(
          (d) => d.name.value === 'rest' || d.name.value === 'restReference',
        );
        if (used.length > 1)
          report(used[1] as Located, where, '@rest and @restReference exclude each other');
        for (const directive of field.directives ?? []) {
          if (directive.name.value === 'rest') {
            const call = readCall(
              where,
              directive,
              report,
              (p, arg) =>
                checkFieldPlaceholder(p, field, typeName, fieldsOf, inputs, arg, where, report),
              undefined,
              (node, body) => checkFormBody(node, body, field, inputs, where, report),
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
            else if (!/^[^.\s]+(\.[^.\s]+)*$/.test(from))
              report(
                directive,
                where,
                `@restField from: "${from}" is not a property name or a dotted path ("address.city")`,
              );
            else renames.set(where, from);
          } else if (directive.name.value === 'restReference') {
            const reference = readReference(where, field, directive, objects, report);
            if (reference) references.set(where, reference);
          } else if (directive.name.value === 'restEntity') {
            report(directive, where, '@restEntity belongs on an entity type, not a field');
          }
        }
      }
    }
  }

  for (const [typeName, nodes] of objects) {
    if (typeName === 'Query' || typeName === 'Mutation') continue;
    const resolvableKeys = nodes
      .flatMap((n) => n.directives ?? [])
      .filter((d) => d.name.value === 'key' && boolArg(d, 'resolvable') !== false);
    // A @restEntity that failed validation has its own error already.
    const declared = nodes.some((n) =>
      (n.directives ?? []).some((d) => d.name.value === 'restEntity'),
    );
    if (resolvableKeys.length === 0 || declared) continue;
    keyOnly.add(typeName);
    // An entity resolved from its key alone: a reference is its representation (the key fields
    // and what @requires asked for), so every other field needs a call of its own.
    // With several keys a representation carries the one the gateway chose; a field of any
    // key is accepted, as the gateway reads key fields from where it has them.
    const keyFields = new Set(resolvableKeys.flatMap((key) => keyFieldsOf(key)));
    for (const node of nodes) {
      for (const field of node.fields ?? []) {
        const name = field.name.value;
        const where = `${typeName}.${name}`;
        const external = (field.directives ?? []).some((d) => d.name.value === 'external');
        if (keyFields.has(name) || external || fields.has(where) || references.has(where)) continue;
        report(
          field,
          where,
          `${where} can never be resolved: ${typeName} has no @restEntity, so a reference to it carries only its key (${[...keyFields].join(', ')}) and @requires fields; give ${name} a @rest or @restReference, mark it @external, or add @restEntity to ${typeName}`,
        );
      }
    }
  }

  const limits = readFieldLimits([...objects.values()].flat(), report);

  if (issues.length > 0) throw new ConfigError(issues);
  return {
    fields,
    entities,
    references,
    keyOnly,
    renames,
    limits,
    document: strip(document),
  };
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
  'bodyType',
  'select',
]);

function readCall(
  where: string,
  directive: ConstDirectiveNode,
  report: Report,
  check: (p: { scope: Scope; path: string[] }, arg: ConstValueNode) => void,
  extraArgs: ReadonlySet<string> = new Set(),
  checkForm?: (node: ConstValueNode, body: BodyTemplate) => void,
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
  const bodyTypeNode = args.get('bodyType');
  let bodyType: 'json' | 'form' = 'json';
  if (bodyTypeNode) {
    const value = bodyTypeNode.kind === Kind.ENUM ? bodyTypeNode.value : undefined;
    if (value === 'FORM') bodyType = 'form';
    else if (value !== 'JSON') report(bodyTypeNode, where, 'bodyType expects JSON or FORM');
    if (!bodyNode) report(bodyTypeNode, where, 'bodyType without a body');
  }
  if (!path) return undefined;
  if (bodyNode && method === 'GET') report(bodyNode, where, 'a GET request has no body');
  const built = bodyNode ? body(bodyNode) : undefined;
  if (bodyNode && built && bodyType === 'form') {
    if (checkForm) checkForm(bodyNode, built);
    else checkFormShape(bodyNode, built, where, report);
  }
  return {
    method,
    path,
    query: pairs('query'),
    headers: pairs('headers'),
    ...(built ? { body: built } : {}),
    bodyType,
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

/**
 * A FORM body is flat (application/x-www-form-urlencoded has names and values, no nesting):
 * an object template of values, or one placeholder naming an input object of scalars and lists
 * of scalars. Nested objects are refused here rather than flattened by a convention
 * (`a[b]=c`) the service may not share.
 */
function checkFormBody(
  node: ConstValueNode,
  body: BodyTemplate,
  field: FieldDefinitionNode,
  inputs: ReadonlyMap<string, InputObjectTypeDefinitionNode>,
  where: string,
  report: Report,
): void {
  if (!isTemplate(body)) return checkFormShape(node, body, where, report);
  const [only] = body.parts;
  const placeholder = body.parts.length === 1 && typeof only === 'object' ? only : undefined;
  const arg =
    placeholder?.scope === 'args' && placeholder.path.length === 1
      ? field.arguments?.find((a) => a.name.value === placeholder.path[0])
      : undefined;
  const input = arg ? inputs.get(namedType(arg.type)) : undefined;
  if (!input) {
    report(
      node,
      where,
      'a FORM body is an object ({ name: "{args.name}" }) or one {args.<input>} placeholder naming an input object',
    );
    return;
  }
  for (const inputField of input.fields ?? []) {
    if (inputs.has(namedType(inputField.type)))
      report(
        node,
        where,
        `a FORM body cannot nest objects: ${input.name.value}.${inputField.name.value} is an input object`,
      );
  }
}

function checkFormShape(node: ConstValueNode, body: BodyTemplate, where: string, report: Report) {
  if (isTemplate(body)) {
    report(node, where, 'a FORM body is an object of fields ({ name: "{args.name}" })');
    return;
  }
  for (const [name, value] of Object.entries(body)) {
    if (!isTemplate(value))
      report(node, where, `a FORM body cannot nest objects: "${name}" is an object`);
  }
}

export function isTemplate(body: BodyTemplate): body is Template {
  return 'parts' in body && Array.isArray(body.parts);
}

function readReference(
  where: string,
  field: FieldDefinitionNode,
  directive: ConstDirectiveNode,
  objects: ReadonlyMap<string, readonly ObjectNode[]>,
  report: Report,
): RestReference | undefined {
  for (const arg of directive.arguments ?? []) {
    if (arg.name.value !== 'key')
      report(arg, where, `@restReference has no argument "${arg.name.value}"; it takes key`);
  }
  const keyNode = directive.arguments?.find((a) => a.name.value === 'key')?.value;
  if (keyNode?.kind !== Kind.OBJECT || keyNode.fields.length === 0) {
    report(keyNode ?? directive, where, '@restReference needs key: { field: "{parent.field}" }');
    return undefined;
  }
  const type = namedType(field.type);
  const keys = (objects.get(type) ?? [])
    .flatMap((n) => n.directives ?? [])
    .filter((d) => d.name.value === 'key')
    .map((d) => keyFieldsOf(d));
  if (keys.length === 0) {
    report(
      directive,
      where,
      `@restReference: ${type} is not an entity of this SDL; declare it as a stub, type ${type} @key(fields: "id", resolvable: false) { id: ID! }`,
    );
    return undefined;
  }
  const given = keyNode.fields.map((f) => f.name.value);
  if (!keys.some((k) => k.length === given.length && k.every((name) => given.includes(name)))) {
    report(
      keyNode,
      where,
      `@restReference key { ${given.join(', ')} } is not a @key of ${type} (${keys.map((k) => `"${k.join(' ')}"`).join(', ')})`,
    );
    return undefined;
  }
  const key: (readonly [string, Template])[] = [];
  for (const f of keyNode.fields) {
    if (f.value.kind !== Kind.STRING) {
      report(f.value, where, 'expected a string template');
      continue;
    }
    try {
      const template = parseTemplate(f.value.value);
      for (const p of placeholders(template)) {
        if (p.scope !== 'parent')
          report(
            f.value,
            where,
            `{${p.scope}.${p.path[0]}}: @restReference templates use {parent.*}`,
          );
      }
      key.push([f.name.value, template]);
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error;
      report(f.value, where, error.message);
    }
  }
  if (key.length !== keyNode.fields.length) return undefined;
  return { type, key, list: isList(field.type) };
}

/** The top-level field names of a `@key(fields: "...")` selection: `"id org { id }"` -> id, org. */
function keyFieldsOf(key: ConstDirectiveNode): string[] {
  const names: string[] = [];
  let depth = 0;
  for (const token of (stringArg(key, 'fields') ?? '').match(/[{}]|[A-Za-z_][A-Za-z0-9_]*/g) ??
    []) {
    if (token === '{') depth++;
    else if (token === '}') depth--;
    else if (depth === 0) names.push(token);
  }
  return names;
}

function isList(type: TypeNode): boolean {
  return type.kind === Kind.NON_NULL_TYPE ? isList(type.type) : type.kind === Kind.LIST_TYPE;
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
