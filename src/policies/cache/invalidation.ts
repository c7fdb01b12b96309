import { Kind, type FieldNode, type OperationDefinitionNode } from 'graphql';
import type { RequestContext } from '../../kernel/context.ts';
import { entitiesIn } from './entities.ts';
import { publishCache, type GraphCache } from './graph-cache.ts';
import type { InvalidationRule } from './hints.ts';
import { declaredTag, keylessTag, keyTag, subgraphTag, typeTag } from './tags.ts';

/**
 * Invalidation: what a mutation names (its rules, `@cacheInvalidate` or `cache.invalidate`) and
 * what the admin endpoint is asked, both as tags removed from the store every instance reads
 * (with Redis, every instance's cache; in memory, this process's).
 *
 * An entity invalidated by key also takes every response that holds objects of its type whose
 * keys were not in the response (`keyless:` tags, policies/cache/entities.ts): such a response
 * might hold this entity, and serving it stale is worse than fetching it again.
 */

/** The tags that invalidate one entity: its own, and the answers that may hold it unkeyed. */
export function entityTags(type: string, key: Readonly<Record<string, unknown>>): string[] {
  return [keyTag(type, key), keylessTag(type)];
}

/**
 * After a mutation answered: the tags its fields' rules name, for the fields that answered
 * without errors. Entities in a field's result are invalidated by key; a result that holds an
 * entity without its key (not selected) invalidates the entity's whole type.
 */
export function mutationTags(
  cache: GraphCache,
  ctx: RequestContext,
  result: { readonly data?: unknown; readonly errors?: readonly { path?: readonly unknown[] }[] },
): string[] {
  const operation = ctx.operation;
  if (!operation || result.data == null || typeof result.data !== 'object') return [];
  const definition = operation.document.definitions.find(
    (d): d is OperationDefinitionNode =>
      d.kind === Kind.OPERATION_DEFINITION &&
      (operation.name === undefined || d.name?.value === operation.name),
  );
  if (definition?.operation !== 'mutation') return [];
  const root = operation.schema.getMutationType()?.name ?? 'Mutation';
  const failed = new Set((result.errors ?? []).map((e) => e.path?.[0]));
  const tags = new Set<string>();
  let entities = false;
  for (const selection of definition.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD) continue;
    const rule = cache.hints.invalidations.get(`${root}.${selection.name.value}`);
    if (!rule || failed.has(responseKey(selection))) continue;
    addRule(tags, rule);
    entities ||= rule.entities;
  }
  if (entities) {
    const found = entitiesIn(
      operation.schema,
      cache.keys,
      operation.document,
      operation.name,
      result.data,
    );
    for (const tag of found.keys) {
      tags.add(tag);
      tags.add(keylessTag(tag.slice('key:'.length, tag.indexOf(':', 'key:'.length))));
    }
    // Entities answered without their key: which one changed cannot be told, so all of them.
    for (const tag of found.keyless) tags.add(typeTag(tag.slice('keyless:'.length)));
  }
  return [...tags];
}

function addRule(tags: Set<string>, rule: InvalidationRule): void {
  for (const type of rule.types) tags.add(typeTag(type));
  for (const tag of rule.tags) tags.add(declaredTag(tag));
}

function responseKey(field: FieldNode): string {
  return field.alias?.value ?? field.name.value;
}

/** Removes what `tags` name; the removal's count is published. Rejects when the store could not. */
export async function invalidate(
  cache: GraphCache,
  ctx: RequestContext | undefined,
  tags: readonly string[],
  source: 'mutation' | 'admin',
): Promise<number> {
  if (tags.length === 0) return 0;
  const removed = await cache.store.invalidate(tags);
  if (ctx) publishCache(ctx, { type: 'invalidate', source, removed });
  return removed;
}

/** What `POST /cache/invalidate` accepts (docs/caching.md, "The admin endpoint"). */
export interface AdminInvalidation {
  readonly types?: readonly string[];
  readonly keys?: readonly { readonly type: string; readonly key: Record<string, unknown> }[];
  readonly tags?: readonly string[];
  readonly subgraphs?: readonly string[];
}

/**
 * The tags an admin request names, or the reason it is malformed (a client's mistake: 400).
 */
export function adminTags(body: unknown): string[] | { readonly problem: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { problem: 'expected a JSON object with types, keys, tags or subgraphs' };
  const request = body as Record<string, unknown>;
  const known = new Set(['types', 'keys', 'tags', 'subgraphs']);
  const unknown = Object.keys(request).filter((k) => !known.has(k));
  if (unknown.length > 0)
    return { problem: `unknown field ${unknown[0]}: expected types, keys, tags or subgraphs` };
  const tags: string[] = [];
  for (const field of ['types', 'tags', 'subgraphs'] as const) {
    const list = request[field];
    if (list === undefined) continue;
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' && x !== ''))
      return { problem: `${field} must be a list of non-empty strings` };
    const tag = field === 'types' ? typeTag : field === 'tags' ? declaredTag : subgraphTag;
    tags.push(...list.map((x: string) => tag(x)));
  }
  if (request.keys !== undefined) {
    if (!Array.isArray(request.keys)) return { problem: 'keys must be a list of {type, key}' };
    for (const [i, item] of request.keys.entries()) {
      const entry = item as { type?: unknown; key?: unknown } | null;
      if (
        typeof entry?.type !== 'string' ||
        typeof entry.key !== 'object' ||
        entry.key === null ||
        Array.isArray(entry.key)
      )
        return { problem: `keys[${i}] must be {"type": "Product", "key": {"id": "1"}}` };
      tags.push(...entityTags(entry.type, entry.key as Record<string, unknown>));
    }
  }
  if (tags.length === 0) return { problem: 'name at least one type, key, tag or subgraph' };
  return tags;
}
