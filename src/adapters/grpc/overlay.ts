import {
  Kind,
  print,
  visit,
  type ConstDirectiveNode,
  type ConstValueNode,
  type DefinitionNode,
  type DocumentNode,
  type FieldDefinitionNode,
} from 'graphql';
import type protobuf from 'protobufjs';
import type { ConfigIssue } from '../../config/errors.ts';
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
 * The overlay SDL of a gRPC subgraph (`schema.file` beside `source.kind: grpc`): it extends the
 * types generated from the protos with federation, in three directives (docs/adapters.md);
 * an entity resolves in batches (`{keys.*}`) or per key (`{key.*}`), as @restEntity does:
 *
 *   type  @grpcEntity(method: "BatchGetOrders", request: { ids: "{keys.id}" }, maxBatch: 50)
 *   type  @grpcEntity(method: "GetOrder", request: { id: "{key.id}" }, concurrency: 4)
 *   field @grpc(method: "ListOrdersByUser", request: { userId: "{parent.id}" }, select: "orders")
 *   field @grpcReference(key: { id: "{parent.productId}" })     an entity of another subgraph
 *
 * and `@rateLimit(window, max, identityArgs)` on any field, generated ones included through an
 * annotation (rate-limit-directive.ts).
 */
export const GRPC_DIRECTIVES: ReadonlySet<string> = new Set([
  'grpc',
  'grpcEntity',
  'grpcReference',
]);

export interface GrpcCall {
  readonly method: protobuf.Method;
  readonly service: protobuf.Service;
  /** Request message fields from templates. */
  readonly request: readonly (readonly [string, Template])[];
  readonly select: readonly string[];
}

/** How references to an entity type resolve (entity-loader.ts): a call and its limits. */
export interface GrpcEntity extends GrpcCall, EntityResolution {}

export interface Overlay {
  readonly document: DocumentNode;
  readonly fields: ReadonlyMap<string, GrpcCall>;
  readonly entities: ReadonlyMap<string, GrpcEntity>;
  /** `Type.field` -> the key of the referenced entity, from the parent's fields. */
  readonly references: ReadonlyMap<string, readonly (readonly [string, Template])[]>;
  /** `@rateLimit` by `Type.field`. */
  readonly limits: ReadonlyMap<string, FieldLimit>;
}

/** The directives the overlay's reader takes out before composition. */
const STRIPPED: ReadonlySet<string> = new Set([...GRPC_DIRECTIVES, RATE_LIMIT_DIRECTIVE]);

export function readOverlay(
  written: DocumentNode,
  generated: DocumentNode,
  services: readonly protobuf.Service[],
  file: string,
): { overlay: Overlay; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const report = (node: Located, path: string, message: string) => {
    issues.push(issueAt(node, file, path, message));
  };
  // The overlay's own `extend schema @link(...)` (it may import more, e.g. @shareable) replaces
  // the generated one: a subgraph links the federation spec once.
  const overlayLinks = written.definitions.some(
    (d) => d.kind === Kind.SCHEMA_EXTENSION || d.kind === Kind.SCHEMA_DEFINITION,
  );
  const annotated = annotateGenerated(
    overlayLinks
      ? generated.definitions.filter((d) => d.kind !== Kind.SCHEMA_EXTENSION)
      : generated.definitions,
    written.definitions,
    report,
  );
  // What is left of the overlay once its annotations of generated fields are applied.
  const overlay = annotated.overlay;
  const merged: DocumentNode = {
    kind: Kind.DOCUMENT,
    definitions: [...annotated.generated, ...annotated.overlay],
  };
  const fieldsByType = new Map<string, FieldDefinitionNode[]>();
  for (const def of merged.definitions) {
    if (def.kind === Kind.OBJECT_TYPE_DEFINITION || def.kind === Kind.OBJECT_TYPE_EXTENSION) {
      fieldsByType.set(def.name.value, [
        ...(fieldsByType.get(def.name.value) ?? []),
        ...(def.fields ?? []),
      ]);
    }
  }
  const methods = new Map(
    services.flatMap((service) =>
      service.methodsArray.map((m) => [m.name, { method: m, service }] as const),
    ),
  );

  const templates = (
    node: ConstValueNode | undefined,
    where: string,
    check: (scope: Scope, name: string, n: ConstValueNode) => void,
  ) => {
    if (!node) return [];
    if (node.kind !== Kind.OBJECT) {
      report(node, where, 'expected an object such as { id: "{parent.id}" }');
      return [];
    }
    return node.fields.flatMap((f) => {
      if (f.value.kind !== Kind.STRING) {
        report(f.value, where, 'expected a string template');
        return [];
      }
      try {
        const template = parseTemplate(f.value.value);
        for (const p of placeholders(template)) check(p.scope, p.path[0] as string, f.value);
        return [[f.name.value, template] as const];
      } catch (error) {
        if (!(error instanceof TemplateError)) throw error;
        report(f.value, where, error.message);
        return [];
      }
    });
  };

  const readCall = (
    directive: ConstDirectiveNode,
    where: string,
    check: (scope: Scope, name: string, n: ConstValueNode) => void,
    extraArgs: ReadonlySet<string> = new Set(),
  ): GrpcCall | undefined => {
    const args = new Map((directive.arguments ?? []).map((a) => [a.name.value, a.value]));
    for (const name of args.keys()) {
      if (!['method', 'request', 'select'].includes(name) && !extraArgs.has(name))
        report(directive, where, `@${directive.name.value} has no argument "${name}"`);
    }
    const methodNode = args.get('method');
    const found = methodNode?.kind === Kind.STRING ? methods.get(methodNode.value) : undefined;
    if (!found) {
      report(
        methodNode ?? directive,
        where,
        `no method ${methodNode?.kind === Kind.STRING ? methodNode.value : '(missing)'} in the protos (methods: ${[...methods.keys()].join(', ')})`,
      );
      return undefined;
    }
    const select = args.get('select');
    const requestFields = new Set(
      (found.method.resolvedRequestType as protobuf.Type).fieldsArray.map((f) => f.name),
    );
    const request = templates(args.get('request'), where, check);
    for (const [name] of request) {
      if (!requestFields.has(name))
        report(
          directive,
          where,
          `${found.method.name} requests have no field "${name}" (fields: ${[...requestFields].join(', ')})`,
        );
    }
    return {
      ...found,
      request,
      select: select?.kind === Kind.STRING ? select.value.split('.').filter(Boolean) : [],
    };
  };

  const fields = new Map<string, GrpcCall>();
  const entities = new Map<string, GrpcEntity>();
  const references = new Map<string, readonly (readonly [string, Template])[]>();
  for (const def of overlay) {
    if (def.kind !== Kind.OBJECT_TYPE_DEFINITION && def.kind !== Kind.OBJECT_TYPE_EXTENSION)
      continue;
    const type = def.name.value;
    const typeFields = (fieldsByType.get(type) ?? []).map((f) => f.name.value);
    const parentCheck = (where: string) => (scope: Scope, name: string, n: ConstValueNode) => {
      if (scope === 'args') return;
      if (scope !== 'parent') report(n, where, `{${scope}.${name}} only applies in @grpcEntity`);
      else if (!typeFields.includes(name))
        report(n, where, `{parent.${name}}: type ${type} has no field "${name}"`);
    };
    for (const directive of def.directives ?? []) {
      if (directive.name.value !== 'grpcEntity') continue;
      const key = def.directives?.find((d) => d.name.value === 'key');
      const keyArg = key?.arguments?.find((a) => a.name.value === 'fields')?.value;
      const keyFields =
        keyArg?.kind === Kind.STRING ? keyArg.value.split(/\s+/).filter(Boolean) : [];
      if (keyFields.length === 0)
        report(directive, type, '@grpcEntity needs a @key on the same type');
      const scopes = new Set<Scope>();
      const call = readCall(
        directive,
        type,
        (scope, name, n) => {
          scopes.add(scope);
          if (scope !== 'key' && scope !== 'keys')
            report(
              n,
              type,
              `{${scope}.${name}}: @grpcEntity templates use {key.field} or {keys.field}`,
            );
          else if (!keyFields.includes(name))
            report(n, type, `{${scope}.${name}}: "${name}" is not a key field of ${type}`);
        },
        ENTITY_LIMITS,
      );
      if (call && scopes.has('key') === scopes.has('keys')) {
        report(
          directive,
          type,
          '@grpcEntity uses either {key.*} (one call per key) or {keys.*} (one call per batch)',
        );
      } else if (call) {
        entities.set(type, {
          ...call,
          mode: scopes.has('keys') ? 'batch' : 'key',
          keyFields,
          ...readEntityLimits(directive, (node, message) => report(node, type, message)),
          label: `${call.service.name}.${call.method.name}`,
        });
      }
    }
    for (const field of def.fields ?? []) {
      const where = `${type}.${field.name.value}`;
      for (const directive of field.directives ?? []) {
        if (directive.name.value === 'grpc') {
          const call = readCall(directive, where, parentCheck(where));
          if (call) fields.set(where, call);
        } else if (directive.name.value === 'grpcReference') {
          const keyNode = directive.arguments?.find((a) => a.name.value === 'key')?.value;
          if (!keyNode)
            report(directive, where, '@grpcReference needs key: { field: "{parent.field}" }');
          else references.set(where, templates(keyNode, where, parentCheck(where)));
        }
      }
    }
  }
  // Read from the merged document: an annotation has put its @rateLimit on the generated field.
  const limits = readFieldLimits(merged.definitions, report);
  const document = visit(merged, {
    Directive: (node) => (STRIPPED.has(node.name.value) ? null : undefined),
    DirectiveDefinition: (node) => (STRIPPED.has(node.name.value) ? null : undefined),
  });
  return { overlay: { document, fields, entities, references, limits }, issues };
}

/**
 * A field the overlay declares on a generated type under the name of a generated field does not
 * add a field: it annotates the generated one, which the overlay could not otherwise reach. Its
 * directives (`@authenticated`, `@requiresScopes`, `@policy`, `@tag`...) and its description go
 * onto the generated field, so that they are composed like any subgraph's:
 *
 *   extend type Mutation { createOrder: Order @authenticated }
 *
 * Its type must be the generated one, and its arguments, when written, the generated ones: the
 * protos decide both. A generated field already calls its method, so @grpc and @grpcReference do
 * not apply to it.
 */
function annotateGenerated(
  generated: readonly DefinitionNode[],
  overlay: readonly DefinitionNode[],
  report: (node: Located, path: string, message: string) => void,
): { generated: DefinitionNode[]; overlay: DefinitionNode[] } {
  const generatedFields = new Map<string, Map<string, FieldDefinitionNode>>();
  for (const def of generated)
    if (def.kind === Kind.OBJECT_TYPE_DEFINITION)
      generatedFields.set(def.name.value, new Map(def.fields?.map((f) => [f.name.value, f])));
  const annotations = new Map<string, Map<string, FieldDefinitionNode>>();
  const rest: DefinitionNode[] = [];
  for (const def of overlay) {
    const existing =
      def.kind === Kind.OBJECT_TYPE_EXTENSION ? generatedFields.get(def.name.value) : undefined;
    if (def.kind !== Kind.OBJECT_TYPE_EXTENSION || !existing) {
      rest.push(def);
      continue;
    }
    const own: FieldDefinitionNode[] = [];
    for (const field of def.fields ?? []) {
      const original = existing.get(field.name.value);
      if (!original) {
        own.push(field);
        continue;
      }
      const where = `${def.name.value}.${field.name.value}`;
      if (print(field.type) !== print(original.type))
        report(
          field.type,
          where,
          `${where} is generated from the protos as ${print(original.type)}; an annotation keeps that type`,
        );
      const args = (list: FieldDefinitionNode['arguments']) =>
        (list ?? []).map((a) => print({ ...a, description: undefined })).join(', ');
      if (field.arguments?.length && args(field.arguments) !== args(original.arguments))
        report(
          field,
          where,
          `${where} is generated with the arguments (${args(original.arguments)}); leave them out or write them as generated`,
        );
      for (const directive of field.directives ?? [])
        if (directive.name.value === 'grpc' || directive.name.value === 'grpcReference')
          report(
            directive,
            where,
            `@${directive.name.value} does not apply to ${where}: a generated field already calls its method`,
          );
      let byType = annotations.get(def.name.value);
      if (!byType) annotations.set(def.name.value, (byType = new Map()));
      byType.set(field.name.value, field);
    }
    // An extension left with nothing of its own is dropped: `extend type X` alone is not SDL.
    if (own.length > 0 || def.directives?.length || def.interfaces?.length)
      rest.push({ ...def, fields: own });
  }
  if (annotations.size === 0) return { generated: [...generated], overlay: rest };
  return {
    generated: generated.map((def) => {
      const byType =
        def.kind === Kind.OBJECT_TYPE_DEFINITION ? annotations.get(def.name.value) : undefined;
      if (!byType || def.kind !== Kind.OBJECT_TYPE_DEFINITION) return def;
      return {
        ...def,
        fields: def.fields?.map((field) => {
          const annotation = byType.get(field.name.value);
          if (!annotation) return field;
          return {
            ...field,
            description: annotation.description ?? field.description,
            directives: [...(field.directives ?? []), ...(annotation.directives ?? [])],
          };
        }),
      };
    }),
    overlay: rest,
  };
}
