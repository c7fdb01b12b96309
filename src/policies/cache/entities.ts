import {
  getNamedType,
  getNullableType,
  getOperationAST,
  isAbstractType,
  isCompositeType,
  isListType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import { keylessTag, keyOf, keyTag, type EntityKeys, type KeySelection } from './tags.ts';
import { fragmentOf } from './policy.ts';

/**
 * The entities a response holds, read from its `data` alongside the operation's selections:
 * what a stored response is tagged with, so that invalidating one entity finds every response
 * that shows it. Runs once per stored response, so it visits each value of the data once.
 */

export interface FoundEntities {
  /** keyTag()s of the entities whose key the response holds. */
  readonly keys: readonly string[];
  /** keylessTag()s of the entity types seen without a complete key. */
  readonly keyless: readonly string[];
}

type Data = Readonly<Record<string, unknown>>;

/** The fields a selection gives an object of a type, by response key, merged as execution does. */
type CollectedFields = ReadonlyMap<string, CollectedField>;
interface CollectedField {
  readonly name: string;
  /** The field's type where the schema knows it (on the runtime type, or the fragment's). */
  readonly type: GraphQLOutputType | undefined;
  /** Every node asks for the field under its own name: the response key is the field's name. */
  readonly unaliased: boolean;
  /** The sub-selections of every node, merged (the same array each time: a memo key). */
  readonly selections: SelectionSetNode[];
}

export function entitiesIn(
  schema: GraphQLSchema,
  keys: EntityKeys,
  document: DocumentNode,
  operationName: string | null | undefined,
  data: unknown,
): FoundEntities {
  const operation = getOperationAST(document, operationName ?? undefined);
  const root = operation && schema.getRootType(operation.operation);
  if (!operation || !root || !isRecord(data)) return { keys: [], keyless: [] };
  const walk = new EntityWalk(schema, keys, document);
  walk.object(data, root, [operation.selectionSet]);
  return { keys: [...walk.keys], keyless: [...walk.keyless] };
}

class EntityWalk {
  readonly keys = new Set<string>();
  readonly keyless = new Set<string>();
  private readonly schema: GraphQLSchema;
  private readonly entityKeys: EntityKeys;
  private readonly fragments = new Map<string, FragmentDefinitionNode>();
  /**
   * Collected fields by selections, then by runtime type (`?Abstract` when unknown): collected
   * once per shape, not once per object.
   */
  private readonly collected = new WeakMap<
    readonly SelectionSetNode[],
    Map<string, CollectedFields>
  >();
  /** Per entity type, the fields of all its keys merged: all a key projection reads. */
  private readonly keyTrees = new Map<string, KeyTree>();

  constructor(schema: GraphQLSchema, entityKeys: EntityKeys, document: DocumentNode) {
    this.schema = schema;
    this.entityKeys = entityKeys;
    for (const definition of document.definitions)
      if (definition.kind === Kind.FRAGMENT_DEFINITION)
        this.fragments.set(definition.name.value, definition);
  }

  value(value: unknown, type: GraphQLOutputType, selections: readonly SelectionSetNode[]): void {
    if (value === null || value === undefined) return;
    const nullable = getNullableType(type);
    if (isListType(nullable)) {
      if (Array.isArray(value))
        for (const item of value) this.value(item, nullable.ofType, selections);
      return;
    }
    if (isCompositeType(nullable) && isRecord(value)) this.object(value, nullable, selections);
  }

  object(object: Data, type: GraphQLCompositeType, selections: readonly SelectionSetNode[]): void {
    const runtime = this.runtimeType(object, type, selections);
    const fields = this.fields(selections, type, runtime);
    if (runtime) {
      this.tag(object, runtime.name, fields);
    } else if (isAbstractType(type)) {
      // Which of its possible types it is, the data does not say: any of them may be here.
      for (const possible of [type, ...this.schema.getPossibleTypes(type)])
        if (this.entityKeys.has(possible.name)) this.keyless.add(keylessTag(possible.name));
    }
    for (const [responseKey, field] of fields)
      if (field.type) this.value(object[responseKey], field.type, field.selections);
  }

  /**
   * Tags one object of an entity type by its key. Only fields selected under their own name
   * count towards the key: under an alias (`sku: id`) a response key may hold another field.
   */
  private tag(object: Data, type: string, fields: CollectedFields): void {
    if (!this.entityKeys.has(type)) return;
    const key = keyOf(this.entityKeys, type, this.keyView(object, fields, this.keyTree(type)));
    if (key) this.keys.add(keyTag(type, key));
    else this.keyless.add(keylessTag(type));
  }

  /** The key fields of `object`, under their field names, from un-aliased selections only. */
  private keyView(object: Data, fields: CollectedFields, tree: KeyTree): Data {
    const view: Record<string, unknown> = {};
    for (const [name, subtree] of tree) {
      const field = fields.get(name);
      if (!field?.unaliased) continue;
      const value = object[name];
      view[name] = subtree && field.type ? this.nestedView(value, field, subtree) : value;
    }
    return view;
  }

  private nestedView(value: unknown, field: CollectedField, tree: KeyTree): unknown {
    if (Array.isArray(value)) return value.map((item) => this.nestedView(item, field, tree));
    const type = getNamedType(field.type);
    if (!isRecord(value) || !isCompositeType(type)) return value;
    const runtime = this.runtimeType(value, type, field.selections);
    return this.keyView(value, this.fields(field.selections, type, runtime), tree);
  }

  /** An object type's own; an abstract type's from `__typename` in the data, when selected. */
  private runtimeType(
    object: Data,
    type: GraphQLCompositeType,
    selections: readonly SelectionSetNode[],
  ): GraphQLObjectType | undefined {
    if (isObjectType(type)) return type;
    for (const [responseKey, field] of this.fields(selections, type, undefined)) {
      if (field.name !== '__typename') continue;
      const named = this.schema.getType(String(object[responseKey]));
      if (isObjectType(named) && this.schema.isSubType(type, named)) return named;
    }
    return undefined;
  }

  /**
   * The fields `selections` give an object of `type` (of `runtime` when known: fragments for
   * other types do not apply; when unknown, every fragment may). Memoised, so a list of a
   * thousand objects collects its fields once.
   */
  private fields(
    selections: readonly SelectionSetNode[],
    type: GraphQLCompositeType,
    runtime: GraphQLObjectType | undefined,
  ): CollectedFields {
    let byType = this.collected.get(selections);
    if (!byType) this.collected.set(selections, (byType = new Map()));
    const memo = runtime?.name ?? `?${type.name}`;
    let fields = byType.get(memo);
    if (fields) return fields;
    const nodes = new Map<string, { name: string; type?: GraphQLOutputType; nodes: FieldNode[] }>();
    const spread = new Set<string>();
    const collect = (set: SelectionSetNode, on: GraphQLCompositeType) => {
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD) {
          const responseKey = selection.alias?.value ?? selection.name.value;
          const entry = nodes.get(responseKey) ?? { name: selection.name.value, nodes: [] };
          entry.type ??= this.fieldType(runtime ?? on, selection.name.value);
          entry.nodes.push(selection);
          nodes.set(responseKey, entry);
          continue;
        }
        if (selection.kind === Kind.FRAGMENT_SPREAD) {
          if (spread.has(selection.name.value)) continue;
          spread.add(selection.name.value);
        }
        const fragment = fragmentOf(selection, this.fragments, this.schema, on);
        if (!fragment) continue;
        if (runtime && !this.applies(fragment.condition, runtime)) continue;
        collect(fragment.selectionSet, fragment.condition);
      }
    };
    for (const set of selections) collect(set, type);
    fields = new Map(
      [...nodes].map(([responseKey, entry]) => [
        responseKey,
        {
          name: entry.name,
          type: entry.type,
          unaliased: entry.nodes.every((node) => node.name.value === responseKey),
          selections: entry.nodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : [])),
        },
      ]),
    );
    byType.set(memo, fields);
    return fields;
  }

  private applies(condition: GraphQLCompositeType, runtime: GraphQLObjectType): boolean {
    return (
      condition === runtime ||
      (!isObjectType(condition) && this.schema.isSubType(condition, runtime))
    );
  }

  private fieldType(type: GraphQLCompositeType, name: string): GraphQLOutputType | undefined {
    return 'getFields' in type ? type.getFields()[name]?.type : undefined;
  }

  private keyTree(type: string): KeyTree {
    let tree = this.keyTrees.get(type);
    if (!tree) this.keyTrees.set(type, (tree = mergedTree(this.entityKeys.get(type) ?? [])));
    return tree;
  }
}

/** Key field names, each with the merged tree of its nested fields (null for a leaf). */
type KeyTree = ReadonlyMap<string, KeyTree | null>;

function mergedTree(keys: readonly KeySelection[]): KeyTree {
  const nested = new Map<string, KeySelection[] | null>();
  for (const key of keys)
    for (const field of key) {
      const known = nested.get(field.name);
      if (field.selection) nested.set(field.name, [...(known ?? []), field.selection]);
      else if (known === undefined) nested.set(field.name, null);
    }
  return new Map(
    [...nested].map(([name, selections]) => [name, selections ? mergedTree(selections) : null]),
  );
}

function isRecord(value: unknown): value is Data {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
