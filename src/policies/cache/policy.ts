import {
  getNamedType,
  getOperationAST,
  isAbstractType,
  isCompositeType,
  isObjectType,
  Kind,
  parse,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type InlineFragmentNode,
  type FragmentSpreadNode,
} from 'graphql';
import type { CacheHint, CacheHints, CacheScope } from './hints.ts';

/**
 * The cache policy of an operation, read from the document alone: Apollo Server's cache-control
 * rules (https://www.apollographql.com/docs/apollo-server/performance/caching, the plugin in
 * @apollo/server's plugin/cacheControl) applied to every field the document selects rather than
 * to the fields an execution resolved. Selections under @skip/@include, and fields under a parent
 * that turns out null, count too: the static policy is never laxer than Apollo's.
 */

export interface CachePolicy {
  readonly maxAge: number;
  readonly scope: CacheScope;
  readonly staleWhileRevalidate: number;
}

export interface OperationPolicy extends CachePolicy {
  /**
   * Every object type the selection can reach (an abstract type's possible types), for `type:`
   * tags. The root type is not one: it is `rootType`.
   */
  readonly types: readonly string[];
  /** Tags declared on the types and fields it reaches (hints.tags), the root type's too. */
  readonly tags: readonly string[];
  /** The operation's root type name ('Query', 'Mutation'). */
  readonly rootType: string;
}

/**
 * A policy that allows nothing: what a document the walk cannot read gets (one that does not
 * parse, or lacks the operation). Its root type is unknown; 'Query' stands in.
 */
const UNCACHEABLE: OperationPolicy = {
  maxAge: 0,
  scope: 'PUBLIC',
  staleWhileRevalidate: 0,
  types: [],
  tags: [],
  rootType: 'Query',
};

/** A hint's own maxAge: one that inherits its parent's has none, whatever else it says. */
const ownMaxAge = (hint: CacheHint) => (hint.inheritMaxAge ? undefined : hint.maxAge);

/**
 * The policy after one more field's hint: the smaller maxAge, PRIVATE over PUBLIC, the smaller
 * staleWhileRevalidate (a hint setting maxAge without one allows no stale serving).
 */
export function restrict(policy: CachePolicy, hint: CacheHint): CachePolicy {
  const maxAge = ownMaxAge(hint);
  const swr = hint.staleWhileRevalidate ?? (maxAge === undefined ? undefined : 0);
  return {
    maxAge: maxAge === undefined ? policy.maxAge : Math.min(policy.maxAge, maxAge),
    scope: hint.scope === 'PRIVATE' ? 'PRIVATE' : policy.scope,
    staleWhileRevalidate:
      swr === undefined ? policy.staleWhileRevalidate : Math.min(policy.staleWhileRevalidate, swr),
  };
}

// Memoised by schema, then hints, then document: each is held weakly, so a reloaded schema or
// config, or a document Apollo Server's cache dropped, takes its policies with it. The same
// document can run against two schemas (a reload in flight) and must not share a policy across
// them. The last level is keyed by default maxAge and operation name: the plain values.
const operationMemo = new WeakMap<
  GraphQLSchema,
  WeakMap<CacheHints, WeakMap<DocumentNode, Map<string, OperationPolicy>>>
>();

/** The policy of the operation `operationName` names in `document` (the only one when null). */
export function operationPolicy(
  schema: GraphQLSchema,
  hints: CacheHints,
  defaultMaxAge: number,
  document: DocumentNode,
  operationName?: string | null,
): OperationPolicy {
  const byHints = memoOf(operationMemo, schema, () => new WeakMap());
  const byDocument = memoOf(byHints, hints, () => new WeakMap());
  const byName = memoOf(byDocument, document, () => new Map());
  const key = `${defaultMaxAge}:${operationName ?? ''}`;
  let policy = byName.get(key);
  if (!policy) {
    const operation = getOperationAST(document, operationName ?? undefined);
    policy = operation
      ? walkOperation(schema, hints, defaultMaxAge, document, operation)
      : UNCACHEABLE;
    byName.set(key, policy);
  }
  return policy;
}

/** Fetch queries are strings built by the query planner; a bounded map keeps the ones in use. */
const FETCH_MEMO_LIMIT = 1000;
const fetchMemo = new WeakMap<GraphQLSchema, WeakMap<CacheHints, Map<string, OperationPolicy>>>();

/**
 * The policy of a query the gateway sends a subgraph, walked against the supergraph's API
 * schema. An `_entities` fetch (which that schema does not have) counts as a root field per
 * type it asks for, returning that type. Fields the API schema hides count as scalars.
 */
export function fetchPolicy(
  schema: GraphQLSchema,
  hints: CacheHints,
  defaultMaxAge: number,
  query: string,
): OperationPolicy {
  const byQuery = memoOf(
    memoOf(fetchMemo, schema, () => new WeakMap()),
    hints,
    () => new Map(),
  );
  const key = `${defaultMaxAge}:${query}`;
  let policy = byQuery.get(key);
  if (!policy) {
    policy = walkQuery(schema, hints, defaultMaxAge, query);
    if (byQuery.size >= FETCH_MEMO_LIMIT) byQuery.clear();
    byQuery.set(key, policy);
  }
  return policy;
}

function walkQuery(
  schema: GraphQLSchema,
  hints: CacheHints,
  defaultMaxAge: number,
  query: string,
): OperationPolicy {
  let document: DocumentNode;
  try {
    document = parse(query, { noLocation: true });
  } catch {
    return UNCACHEABLE;
  }
  const operation = getOperationAST(document);
  return operation ? walkOperation(schema, hints, defaultMaxAge, document, operation) : UNCACHEABLE;
}

function memoOf<K extends object, V>(memo: WeakMap<K, V>, key: K, create: () => V): V {
  let value = memo.get(key);
  if (value === undefined) memo.set(key, (value = create()));
  return value;
}

function walkOperation(
  schema: GraphQLSchema,
  hints: CacheHints,
  defaultMaxAge: number,
  document: DocumentNode,
  operation: OperationDefinitionNode,
): OperationPolicy {
  const root = schema.getRootType(operation.operation);
  if (!root) return UNCACHEABLE;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions)
    if (definition.kind === Kind.FRAGMENT_DEFINITION)
      fragments.set(definition.name.value, definition);
  const walk = new PolicyWalk(schema, hints, defaultMaxAge, fragments);
  walk.addTags(root.name);
  walk.selections(operation.selectionSet, root, true);
  const { maxAge, scope, staleWhileRevalidate } = walk.policy;
  // Nothing restricted it (only `__typename`, say): the default maxAge, as for any root field.
  const restricted = Number.isFinite(maxAge);
  return {
    maxAge: restricted ? maxAge : defaultMaxAge,
    scope,
    staleWhileRevalidate: restricted ? staleWhileRevalidate : 0,
    types: [...walk.types].sort(),
    tags: [...walk.tags].sort(),
    rootType: root.name,
  };
}

/** One walk over a document's selections, gathering the policy, the types and the tags. */
class PolicyWalk {
  policy: CachePolicy = {
    maxAge: Number.POSITIVE_INFINITY,
    scope: 'PUBLIC',
    staleWhileRevalidate: Number.POSITIVE_INFINITY,
  };
  readonly types = new Set<string>();
  readonly tags = new Set<string>();
  /**
   * Selection sets already walked, with the parent type and rootness they were walked under:
   * walking one again adds nothing (restricting is idempotent), and skipping it keeps a fragment
   * spread in many places linear.
   */
  private readonly walked = new WeakMap<SelectionSetNode, Set<string>>();

  private readonly schema: GraphQLSchema;
  private readonly hints: CacheHints;
  private readonly defaultMaxAge: number;
  private readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>;

  constructor(
    schema: GraphQLSchema,
    hints: CacheHints,
    defaultMaxAge: number,
    fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  ) {
    this.schema = schema;
    this.hints = hints;
    this.defaultMaxAge = defaultMaxAge;
    this.fragments = fragments;
  }

  selections(set: SelectionSetNode, parent: GraphQLCompositeType, isRoot: boolean): void {
    const seen = memoOf(this.walked, set, () => new Set<string>());
    const visit = `${parent.name}:${isRoot}`;
    if (seen.has(visit)) return;
    seen.add(visit);
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const name = selection.name.value;
        // `__typename` and introspection do not restrict (Apollo hints only schema fields).
        if (name.startsWith('__')) continue;
        const owners = this.parentsOf(parent).flatMap((type) => {
          const field = type.getFields()[name];
          return field ? [{ type, field }] : [];
        });
        if (isRoot && name === '_entities' && owners.length === 0) {
          if (selection.selectionSet) this.entities(selection.selectionSet);
          continue;
        }
        const returns = new Set<GraphQLCompositeType>();
        for (const { type, field } of owners) {
          const target = getNamedType(field.type);
          this.restrict(`${type.name}.${name}`, target, isRoot);
          if (isCompositeType(target)) returns.add(target);
        }
        if (isAbstractType(parent)) this.addTags(`${parent.name}.${name}`);
        if (selection.selectionSet)
          for (const target of returns) this.selections(selection.selectionSet, target, false);
      } else {
        // A type the schema does not know (hidden from the API schema): nothing to look up.
        const fragment = fragmentOf(selection, this.fragments, this.schema, parent);
        if (fragment) this.selections(fragment.selectionSet, fragment.condition, isRoot);
      }
    }
  }

  /**
   * `_entities` in a subgraph fetch: each type condition under it is a root field returning
   * that type. A type the API schema hides still has its name's hints, and the default maxAge.
   */
  private entities(set: SelectionSetNode): void {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) continue;
      const fragment =
        selection.kind === Kind.INLINE_FRAGMENT
          ? selection
          : this.fragments.get(selection.name.value);
      if (!fragment) continue;
      if (!fragment.typeCondition) {
        this.entities(fragment.selectionSet);
        continue;
      }
      const name = fragment.typeCondition.name.value;
      const type = this.schema.getType(name);
      this.restrict(undefined, type ?? name, true);
      if (isCompositeType(type)) this.selections(fragment.selectionSet, type, false);
    }
  }

  /**
   * Restricts by one field (`coordinate`; undefined for `_entities`) returning `target`: a type,
   * or the name of an entity type the API schema hides (composite, then, and an object type).
   */
  private restrict(
    coordinate: string | undefined,
    target: GraphQLNamedType | string,
    isRoot: boolean,
  ): void {
    const name = typeof target === 'string' ? target : target.name;
    const objects = this.objectsOf(target);
    const typeHint = objects ? (this.hints.types.get(name) ?? {}) : undefined;
    const fieldHint = coordinate === undefined ? undefined : this.hints.fields.get(coordinate);
    this.policy = restrict(
      this.policy,
      fieldPolicy(typeHint, fieldHint, isRoot, this.defaultMaxAge),
    );
    if (coordinate !== undefined) this.addTags(coordinate);
    if (!objects) return;
    this.addTags(name);
    for (const object of objects) {
      this.types.add(object);
      this.addTags(object);
    }
  }

  addTags(coordinate: string): void {
    for (const tag of this.hints.tags.get(coordinate) ?? []) this.tags.add(tag);
  }

  /**
   * The object types a field selected on `parent` is resolved on: Apollo Server reads the
   * field's hint on the object type executing it, never on an interface.
   */
  private parentsOf(parent: GraphQLCompositeType): readonly GraphQLObjectType[] {
    return isObjectType(parent) ? [parent] : this.schema.getPossibleTypes(parent);
  }

  /** The object types a field's value can be; undefined when it returns a leaf type. */
  private objectsOf(target: GraphQLNamedType | string): readonly string[] | undefined {
    if (typeof target === 'string') return [target];
    return isCompositeType(target)
      ? this.parentsOf(target).map((object) => object.name)
      : undefined;
  }
}

/**
 * One field's policy, by Apollo Server's rules: the return type's hint (a composite type's),
 * replaced by the field's own; `inheritMaxAge` leaves maxAge unset; then a field still without
 * maxAge gets the default when it returns a composite type it does not inherit for, or is a root
 * field. A scalar field below the root without hints restricts nothing. `typeHint` is the
 * returned type's hint (`{}` when it has none), undefined when the field returns a leaf type.
 */
function fieldPolicy(
  typeHint: CacheHint | undefined,
  fieldHint: CacheHint | undefined,
  isRoot: boolean,
  defaultMaxAge: number,
): CacheHint {
  let policy: CacheHint = {};
  let inherit = false;
  if (typeHint) {
    policy = replace(policy, typeHint);
    inherit = typeHint.inheritMaxAge === true;
  }
  if (fieldHint?.inheritMaxAge && policy.maxAge === undefined) {
    inherit = true;
    if (fieldHint.scope) policy = { ...policy, scope: fieldHint.scope };
  } else if (fieldHint) {
    policy = replace(policy, fieldHint);
  }
  if (policy.maxAge === undefined && ((typeHint && !inherit) || isRoot))
    policy = { ...policy, maxAge: defaultMaxAge, staleWhileRevalidate: 0 };
  return policy;
}

/** Apollo's `replace`: what the hint sets wins; a maxAge brings its staleWhileRevalidate along. */
function replace(policy: CacheHint, hint: CacheHint): CacheHint {
  const maxAge = ownMaxAge(hint);
  const scope = hint.scope ?? policy.scope;
  const swr =
    maxAge === undefined
      ? (hint.staleWhileRevalidate ?? policy.staleWhileRevalidate)
      : (hint.staleWhileRevalidate ?? 0);
  return {
    ...((maxAge ?? policy.maxAge) === undefined ? {} : { maxAge: maxAge ?? policy.maxAge }),
    ...(scope ? { scope } : {}),
    ...(swr === undefined ? {} : { staleWhileRevalidate: swr }),
  };
}

/**
 * The selections a fragment (inline, or a spread of a named one) adds, and the composite type
 * its condition names (the parent's when it names none); undefined when the fragment or its
 * type is unknown. The walks of this folder read fragments the same way.
 */
export function fragmentOf(
  selection: InlineFragmentNode | FragmentSpreadNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  schema: GraphQLSchema,
  parent: GraphQLCompositeType,
): { selectionSet: SelectionSetNode; condition: GraphQLCompositeType } | undefined {
  const fragment =
    selection.kind === Kind.INLINE_FRAGMENT ? selection : fragments.get(selection.name.value);
  if (!fragment) return undefined;
  const condition = fragment.typeCondition
    ? schema.getType(fragment.typeCondition.name.value)
    : parent;
  return isCompositeType(condition)
    ? { selectionSet: fragment.selectionSet, condition }
    : undefined;
}
