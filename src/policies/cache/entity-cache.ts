import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { parse, type DocumentNode } from 'graphql';
import { channels } from '../../kernel/channels.ts';
import type { RequestContext } from '../../kernel/context.ts';
import { entitiesIn } from './entities.ts';
import { within } from './fills.ts';
import {
  answersOf,
  cacheKey,
  freshness,
  identityKey,
  publishCache,
  stableJson,
  varyValues,
  type GraphCache,
} from './graph-cache.ts';
import { parseCacheControl } from './hints.ts';
import { refreshes } from './response-cache.ts';
import { fetchPolicy, restrict, type CachePolicy, type OperationPolicy } from './policy.ts';
import type { CacheEntry, CacheWrite } from './store.ts';
import { declaredTag, keyOf, keyTag, subgraphTag, typeTag } from './tags.ts';

/**
 * The entity cache: the fetches Apollo Gateway sends subgraphs for a query, cached below the
 * response cache so that different operations share what they have in common. An `_entities`
 * fetch is cached per entity (its representation and the fetch's selection decide it), so two
 * queries reaching the same products through different paths share entries; a root-field fetch
 * is cached whole. Every kind of subgraph (native, REST and gRPC adapters) passes here, at the
 * data source, where representations are data rather than bytes of a request body.
 *
 * Mutations' fetches are never cached nor served from the cache.
 */

/** One fetch as the gateway asked for it. */
export interface SubgraphFetch {
  readonly query?: string | undefined;
  readonly variables?: Readonly<Record<string, unknown>> | undefined;
}

/** Sends the fetch with these variables (the representations the cache did not answer). */
export type Fetcher = (
  variables: Readonly<Record<string, unknown>> | undefined,
) => Promise<GatewayGraphQLResponse>;

/** Fetch queries parsed, for the entities their answers hold; plans send a handful per subgraph. */
const documents = new Map<string, DocumentNode | null>();
const MAX_DOCUMENTS = 1_000;

export async function fetchThroughCache(
  ctx: RequestContext,
  subgraph: string,
  request: SubgraphFetch,
  fetch: Fetcher,
): Promise<GatewayGraphQLResponse> {
  const cache = ctx.snapshot.cache;
  const { settings } = cache;
  const query = request.query;
  if (
    !settings.enabled ||
    !settings.entities.enabled ||
    query === undefined ||
    ctx.operation?.document.definitions.some(
      (d) => d.kind === 'OperationDefinition' && d.operation !== 'query',
    ) !== false ||
    settings.entities.skip_subgraphs.includes(subgraph)
  )
    return fetch(request.variables);
  const schema = cache.schema();
  if (!schema) return fetch(request.variables);
  const policy = fetchPolicy(schema, cache.hints, settings.default_max_age, query);
  if (policy.maxAge <= 0 || (policy.scope === 'PRIVATE' && !ctx.identity))
    return fetch(request.variables);
  const representations = request.variables?.representations;
  return Array.isArray(representations)
    ? entities(ctx, cache, subgraph, query, request.variables ?? {}, representations, policy, fetch)
    : rootFetch(ctx, cache, subgraph, query, request.variables ?? {}, policy, fetch);
}

/** The keys an entry of this fetch may be at: shared, and the caller's own (private data). */
function keysFor(
  cache: GraphCache,
  ctx: RequestContext,
  policy: OperationPolicy,
  parts: readonly string[],
): { public: string | undefined; private: string | undefined } {
  const all = [cache.graph, ...parts, varyValues(cache, ctx)];
  return {
    public: policy.scope === 'PUBLIC' ? cacheKey('entity', all) : undefined,
    private: ctx.identity ? cacheKey('entity', [...all, identityKey(ctx.identity)]) : undefined,
  };
}

async function entities(
  ctx: RequestContext,
  cache: GraphCache,
  subgraph: string,
  query: string,
  variables: Readonly<Record<string, unknown>>,
  representations: readonly unknown[],
  policy: OperationPolicy,
  fetch: Fetcher,
): Promise<GatewayGraphQLResponse> {
  const { representations: _, ...rest } = variables;
  const shared = [subgraph, query, stableJson(rest)];
  const keys = representations.map((representation) =>
    keysFor(cache, ctx, policy, [...shared, stableJson(representation)]),
  );
  const lookedUp = refreshes(ctx)
    ? []
    : keys.flatMap((k) => [k.private, k.public].filter((x) => x !== undefined));
  const found = await cache.store.get(lookedUp);
  const byKey = new Map(lookedUp.map((key, i) => [key, found[i]]));
  const now = Date.now();
  const results: unknown[] = new Array(representations.length);
  const missing: number[] = [];
  const waits: { index: number; fill: Promise<CacheEntry | undefined> }[] = [];
  const releases = new Map<number, (entry: CacheEntry | undefined) => void>();
  for (const [index, k] of keys.entries()) {
    const entry = (k.private && byKey.get(k.private)) || (k.public && byKey.get(k.public));
    const state = entry ? freshness(entry, now) : 'expired';
    const own = (k.public ?? k.private) as string;
    const inFlight = cache.fills.join(own);
    if (entry && (state === 'fresh' || (state === 'stale' && inFlight))) {
      results[index] = JSON.parse(entry.value);
    } else if (inFlight) {
      waits.push({ index, fill: inFlight });
    } else {
      releases.set(index, cache.fills.begin(own));
      missing.push(index);
    }
  }
  const errors: NonNullable<GatewayGraphQLResponse['errors']>[number][] = [];
  const writes: CacheWrite[] = [];
  try {
    const fetched = await fetchSome(representations, missing, variables, fetch);
    // What the backends answered narrows what is stored (read once the fetch has answered).
    const final = narrowed(ctx, policy);
    errors.push(...fetched.errors);
    for (const [j, index] of missing.entries()) {
      const value = fetched.values?.[j];
      results[index] = value ?? null;
      const entry =
        fetched.storable && value != null
          ? entityEntry(cache, subgraph, representations[index], value, final, policy)
          : undefined;
      const key = entry && (entry.scope === 'PRIVATE' ? keys[index]?.private : keys[index]?.public);
      if (entry && key) writes.push({ key, entry });
      releases.get(index)?.(key ? entry : undefined);
    }
  } finally {
    // A fetch that threw stored nothing: whoever waits on its entities fetches them itself.
    for (const release of releases.values()) release(undefined);
  }
  // Entities another fetch was filling: its entries, or (it stored none) a fetch of our own.
  const late: number[] = [];
  const wait = Math.min(cache.settings.lock_timeout, ctx.deadline - performance.now());
  for (const { index, fill } of waits) {
    const entry = await within(fill, wait);
    if (entry) results[index] = JSON.parse(entry.value);
    else late.push(index);
  }
  if (late.length > 0) {
    const again = await fetchSome(representations, late, variables, fetch);
    errors.push(...again.errors);
    for (const [j, index] of late.entries()) results[index] = again.values?.[j] ?? null;
  }
  if (writes.length > 0) {
    await cache.store.set(writes);
    for (const write of writes)
      publishCache(ctx, { type: 'write', cache: 'entity', bytes: write.entry.value.length });
  }
  count(ctx, representations, new Set([...missing, ...late]));
  return errors.length > 0
    ? { data: { _entities: results }, errors }
    : { data: { _entities: results } };
}

/**
 * Fetches the representations at `indexes` in one call. Their values line up with `indexes`;
 * errors have their paths moved back to the representations' own positions.
 */
async function fetchSome(
  representations: readonly unknown[],
  indexes: readonly number[],
  variables: Readonly<Record<string, unknown>>,
  fetch: Fetcher,
): Promise<{
  values: readonly unknown[] | undefined;
  errors: NonNullable<GatewayGraphQLResponse['errors']>;
  /** Whether the answer may be stored: every entity answered, no errors. */
  storable: boolean;
}> {
  if (indexes.length === 0) return { values: [], errors: [], storable: false };
  const response = await fetch({
    ...variables,
    representations: indexes.map((i) => representations[i]),
  });
  const values = (response.data as { _entities?: unknown } | null | undefined)?._entities;
  const errors = (response.errors ?? []).map((error) => {
    const path = error.path;
    if (path?.[0] !== '_entities' || typeof path[1] !== 'number') return error;
    return { ...error, path: ['_entities', indexes[path[1]] ?? path[1], ...path.slice(2)] };
  });
  return {
    values: Array.isArray(values) ? values : undefined,
    errors,
    storable: Array.isArray(values) && values.length === indexes.length && errors.length === 0,
  };
}

/** A fetch's policy narrowed by what the operation's backends answered so far. */
function narrowed(ctx: RequestContext, policy: CachePolicy): CachePolicy {
  let final = policy;
  for (const header of answersOf(ctx)) final = restrict(final, parseCacheControl(header));
  return final;
}

function entityEntry(
  cache: GraphCache,
  subgraph: string,
  representation: unknown,
  value: unknown,
  final: CachePolicy,
  policy: OperationPolicy,
): CacheEntry | undefined {
  if (final.maxAge <= 0) return undefined;
  const object = (representation ?? {}) as Record<string, unknown>;
  const type = typeof object.__typename === 'string' ? object.__typename : 'unknown';
  const key = keyOf(cache.keys, type, object);
  return {
    cache: 'entity',
    type,
    value: JSON.stringify(value),
    storedAt: Date.now(),
    maxAge: final.maxAge,
    staleWhileRevalidate: final.staleWhileRevalidate,
    scope: final.scope,
    tags: [
      typeTag(type),
      ...(key ? [keyTag(type, key)] : []),
      subgraphTag(subgraph),
      ...policy.tags.map(declaredTag),
    ],
  };
}

async function rootFetch(
  ctx: RequestContext,
  cache: GraphCache,
  subgraph: string,
  query: string,
  variables: Readonly<Record<string, unknown>>,
  policy: OperationPolicy,
  fetch: Fetcher,
): Promise<GatewayGraphQLResponse> {
  const keys = keysFor(cache, ctx, policy, [subgraph, query, stableJson(variables)]);
  const found = refreshes(ctx)
    ? []
    : await cache.store.get([keys.private, keys.public].filter((k) => k !== undefined));
  const entry = found.find((e) => e !== undefined);
  const own = (keys.public ?? keys.private) as string;
  const state = entry ? freshness(entry, Date.now()) : 'expired';
  const inFlight = cache.fills.join(own);
  if (entry && (state === 'fresh' || (state === 'stale' && inFlight))) {
    countRoot(ctx, policy.rootType, true);
    return { data: JSON.parse(entry.value) as Record<string, unknown> };
  }
  if (inFlight) {
    const wait = Math.min(cache.settings.lock_timeout, ctx.deadline - performance.now());
    const filled = await within(inFlight, wait);
    if (filled) {
      countRoot(ctx, policy.rootType, true);
      return { data: JSON.parse(filled.value) as Record<string, unknown> };
    }
  }
  countRoot(ctx, policy.rootType, false);
  const release = inFlight ? undefined : cache.fills.begin(own);
  let stored: CacheEntry | undefined;
  try {
    const response = await fetch(variables);
    if ((response.errors?.length ?? 0) > 0 || response.data == null) return response;
    const final = narrowed(ctx, policy);
    const key = final.scope === 'PRIVATE' ? keys.private : keys.public;
    if (final.maxAge <= 0 || key === undefined) return response;
    const document = documentOf(query);
    const schema = cache.schema();
    const held =
      document && schema
        ? entitiesIn(schema, cache.keys, document, undefined, response.data)
        : { keys: [], keyless: [] };
    stored = {
      cache: 'entity',
      type: policy.rootType,
      value: JSON.stringify(response.data),
      storedAt: Date.now(),
      maxAge: final.maxAge,
      staleWhileRevalidate: final.staleWhileRevalidate,
      scope: final.scope,
      tags: [
        ...policy.types.map(typeTag),
        ...held.keys,
        ...held.keyless,
        subgraphTag(subgraph),
        ...policy.tags.map(declaredTag),
      ],
    };
    await cache.store.set([{ key, entry: stored }]);
    publishCache(ctx, { type: 'write', cache: 'entity', bytes: stored.value.length });
    return response;
  } finally {
    release?.(stored);
  }
}

function documentOf(query: string): DocumentNode | undefined {
  let document = documents.get(query);
  if (document === undefined) {
    try {
      document = parse(query, { noLocation: true });
    } catch {
      document = null;
    }
    if (documents.size >= MAX_DOCUMENTS) documents.clear();
    documents.set(query, document);
  }
  return document ?? undefined;
}

/** Counts an entity fetch's hits and misses, per type, for the log line and the metrics. */
function count(
  ctx: RequestContext,
  representations: readonly unknown[],
  missed: ReadonlySet<number>,
): void {
  const facts = (ctx.facts.cache ??= {});
  const entities = (facts.entities ??= { hits: 0, misses: 0 });
  entities.hits += representations.length - missed.size;
  entities.misses += missed.size;
  if (!channels.cache.hasSubscribers) return;
  const byType = new Map<string, { hit: number; miss: number }>();
  for (const [index, representation] of representations.entries()) {
    const type = String((representation as { __typename?: unknown } | null)?.__typename);
    const counts = byType.get(type) ?? { hit: 0, miss: 0 };
    if (missed.has(index)) counts.miss += 1;
    else counts.hit += 1;
    byType.set(type, counts);
  }
  for (const [entryType, counts] of byType)
    for (const result of ['hit', 'miss'] as const)
      if (counts[result] > 0)
        publishCache(ctx, {
          type: 'lookup',
          cache: 'entity',
          entryType,
          result,
          count: counts[result],
        });
}

function countRoot(ctx: RequestContext, type: string, hit: boolean): void {
  const facts = (ctx.facts.cache ??= {});
  const entities = (facts.entities ??= { hits: 0, misses: 0 });
  if (hit) entities.hits += 1;
  else entities.misses += 1;
  publishCache(ctx, {
    type: 'lookup',
    cache: 'entity',
    entryType: type,
    result: hit ? 'hit' : 'miss',
    count: 1,
  });
}
