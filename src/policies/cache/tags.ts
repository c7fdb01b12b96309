import {
  Kind,
  parse,
  valueFromASTUntyped,
  type DocumentNode,
  type SelectionSetNode,
} from 'graphql';

/**
 * The tags cache entries are stored under and invalidated by. One module builds them all, so
 * that what an invalidation names and what an entry carries are the same strings.
 */

export const typeTag = (type: string) => `type:${type}`;
/** A response holding objects of this entity type whose key it does not know. */
export const keylessTag = (type: string) => `keyless:${type}`;
export const declaredTag = (name: string) => `tag:${name}`;
export const subgraphTag = (name: string) => `subgraph:${name}`;

/**
 * `key:Type:{...}`, the same string for the same key however it was written: object keys sorted
 * at every depth, and every scalar as a string, since a subgraph may answer `{id: 1}` where an
 * invalidation names `{id: "1"}` (an ID serialises as a string either way). Arrays keep their
 * order.
 */
export function keyTag(type: string, key: Readonly<Record<string, unknown>>): string {
  return `key:${type}:${stableJson(key)}`;
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(String(value));
}

/** One `@key` field set as a tree: its fields, and the fields of each one that is an object. */
export type KeySelection = readonly KeyField[];
export interface KeyField {
  readonly name: string;
  readonly selection?: KeySelection;
}

/** Per entity type, its `@key` field sets, each once. */
export type EntityKeys = ReadonlyMap<string, readonly KeySelection[]>;

/**
 * The entity types of a supergraph and their keys, from `@join__type(graph:, key:)` (the join
 * spec, https://specs.apollo.dev/join/v0.3). A key one subgraph marks `resolvable: false` is still
 * the entity's identity, so it counts.
 */
export function entityKeysOf(supergraphSdl: string): EntityKeys {
  const document = parse(supergraphSdl, { noLocation: true });
  const joinType = `${joinPrefix(document.definitions)}__type`;
  const keys = new Map<string, Map<string, KeySelection>>();
  for (const definition of document.definitions) {
    if (
      definition.kind !== Kind.OBJECT_TYPE_DEFINITION &&
      definition.kind !== Kind.OBJECT_TYPE_EXTENSION &&
      definition.kind !== Kind.INTERFACE_TYPE_DEFINITION &&
      definition.kind !== Kind.INTERFACE_TYPE_EXTENSION
    )
      continue;
    for (const directive of definition.directives ?? []) {
      if (directive.name.value !== joinType) continue;
      const fields = directive.arguments?.find((a) => a.name.value === 'key')?.value;
      const selection = fields?.kind === Kind.STRING ? keySelectionOf(fields.value) : undefined;
      if (!selection) continue;
      const type = definition.name.value;
      const known = keys.get(type) ?? new Map<string, KeySelection>();
      // "id sku" and "sku id" are one key.
      const canonical = canonicalOf(selection);
      if (!known.has(canonical)) known.set(canonical, selection);
      keys.set(type, known);
    }
  }
  return new Map([...keys].map(([type, byCanonical]) => [type, [...byCanonical.values()]]));
}

/**
 * The projection of `object` on the first key of `type` it holds whole, nested keys too; or
 * undefined when it holds none whole or `type` is no entity. A key field that is null counts as
 * missing: no entity is identified by a null key, and the caller falls back to a keyless tag.
 */
export function keyOf(
  keys: EntityKeys,
  type: string,
  object: Readonly<Record<string, unknown>>,
): Record<string, unknown> | undefined {
  for (const key of keys.get(type) ?? []) {
    const projection = project(object, key);
    if (projection !== undefined) return projection;
  }
  return undefined;
}

function project(
  object: Readonly<Record<string, unknown>>,
  key: KeySelection,
): Record<string, unknown> | undefined {
  const projection: Record<string, unknown> = {};
  for (const field of key) {
    const value = field.selection
      ? projectValue(object[field.name], field.selection)
      : object[field.name];
    if (value === undefined || value === null) return undefined;
    projection[field.name] = value;
  }
  return projection;
}

/** A nested key field's value: an object, or a list of them, projected whole. */
function projectValue(value: unknown, key: KeySelection): unknown {
  if (Array.isArray(value)) {
    const items = value.map((item) => projectValue(item, key));
    return items.some((item) => item === undefined) ? undefined : items;
  }
  return value !== null && typeof value === 'object'
    ? project(value as Record<string, unknown>, key)
    : undefined;
}

/** A `key:` field set as a tree; undefined when it does not parse or selects fragments. */
function keySelectionOf(fields: string): KeySelection | undefined {
  try {
    const [operation] = parse(`{${fields}}`, { noLocation: true }).definitions;
    return operation?.kind === Kind.OPERATION_DEFINITION
      ? fromSelectionSet(operation.selectionSet)
      : undefined;
  } catch {
    return undefined;
  }
}

function fromSelectionSet(set: SelectionSetNode): KeySelection | undefined {
  const fields: KeyField[] = [];
  for (const selection of set.selections) {
    if (selection.kind !== Kind.FIELD) return undefined;
    if (!selection.selectionSet) {
      fields.push({ name: selection.name.value });
      continue;
    }
    const nested = fromSelectionSet(selection.selectionSet);
    if (!nested) return undefined;
    fields.push({ name: selection.name.value, selection: nested });
  }
  return fields;
}

function canonicalOf(key: KeySelection): string {
  return key
    .map((f) => (f.selection ? `${f.name}{${canonicalOf(f.selection)}}` : f.name))
    .sort()
    .join(' ');
}

/** The join spec's prefix: `join` unless its `@link` says `as:`. */
function joinPrefix(definitions: DocumentNode['definitions']): string {
  for (const definition of definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION && definition.kind !== Kind.SCHEMA_EXTENSION)
      continue;
    for (const link of definition.directives ?? []) {
      if (link.name.value !== 'link') continue;
      const args = Object.fromEntries(
        (link.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value)]),
      );
      if (String(args.url ?? '').startsWith('https://specs.apollo.dev/join/'))
        return typeof args.as === 'string' ? args.as : 'join';
    }
  }
  return 'join';
}
