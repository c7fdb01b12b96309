import { createHash } from 'node:crypto';
import { Supergraph as FederationSupergraph } from '@apollo/federation-internals';
import type { GraphQLSchema } from 'graphql';
import type { CacheConfig, GatewayConfig } from '../../config/schema.ts';
import { cacheControlOf } from '../../kernel/cache-control.ts';
import { channels, type CacheSignal } from '../../kernel/channels.ts';
import type { Identity, RequestContext } from '../../kernel/context.ts';
import type { Fills } from './fills.ts';
import { mergeHints, type CacheHint, type CacheHints } from './hints.ts';
import type { CachePolicy } from './policy.ts';
import type { CacheEntry } from './store.ts';
import type { CacheStore } from './store.ts';
import { entityKeysOf, type EntityKeys } from './tags.ts';

/**
 * The cache as one snapshot serves it: the settings and hints of its config over the running
 * gateway's store and fills (both outlive reloads). Built once per load (runtime/snapshot.ts).
 */
export interface GraphCache {
  readonly settings: CacheConfig;
  /** `@cacheControl`, `@cacheTag` and `@cacheInvalidate` of the subgraphs, the config's over them. */
  readonly hints: CacheHints;
  /** Each entity type's `@key` field sets: what entries are tagged and invalidated by. */
  readonly keys: EntityKeys;
  /**
   * The whole graph's API schema, built on first use: what subgraph fetches are weighed against
   * (a client's contract may lack types a fetch reaches). Undefined if Apollo cannot build it:
   * fetches are then not cached, never failed.
   */
  readonly schema: () => GraphQLSchema | undefined;
  /** The supergraph's hash: entries of another graph are never served for this one. */
  readonly graph: string;
  /** Client headers any backend receives: an answer may depend on them, so keys include them. */
  readonly vary: readonly string[];
  readonly store: CacheStore;
  readonly fills: Fills;
}

export interface GraphCacheParts {
  readonly config: GatewayConfig | undefined;
  /** Hints read from the subgraphs' SDL (or a supergraph's), before the config's. */
  readonly sdlHints: CacheHints;
  readonly supergraphSdl: string;
  readonly supergraphHash: string;
  readonly store: CacheStore;
  readonly fills: Fills;
}

export function buildGraphCache(parts: GraphCacheParts): GraphCache {
  const settings = parts.config?.cache ?? CACHE_OFF;
  let schema: GraphQLSchema | null | undefined;
  const apiSchema = () => {
    if (schema === undefined) {
      try {
        schema = FederationSupergraph.build(parts.supergraphSdl).apiSchema().toGraphQLJSSchema();
      } catch {
        schema = null;
      }
    }
    return schema ?? undefined;
  };
  return {
    settings,
    hints: mergeHints(parts.sdlHints, configHints(settings)),
    keys: entityKeysOf(parts.supergraphSdl),
    schema: apiSchema,
    graph: parts.supergraphHash,
    vary: forwardedHeaders(parts.config),
    store: parts.store,
    fills: parts.fills,
  };
}

const CACHE_OFF = { enabled: false } as CacheConfig;

/** `cache.hints` and `cache.invalidate` as a hints layer. */
function configHints(settings: CacheConfig): CacheHints {
  const hint = (h: NonNullable<CacheConfig['hints']>['types'][string]): CacheHint => ({
    ...(h.max_age === undefined ? {} : { maxAge: h.max_age }),
    ...(h.scope === undefined ? {} : { scope: h.scope }),
    ...(h.inherit_max_age === undefined ? {} : { inheritMaxAge: h.inherit_max_age }),
    ...(h.stale_while_revalidate === undefined
      ? {}
      : { staleWhileRevalidate: h.stale_while_revalidate }),
  });
  const hints = settings.hints ?? { types: {}, fields: {} };
  const tags = new Map<string, readonly string[]>();
  for (const [coordinate, h] of [...Object.entries(hints.types), ...Object.entries(hints.fields)])
    if (h.tags) tags.set(coordinate, h.tags);
  return {
    types: new Map(Object.entries(hints.types).map(([type, h]) => [type, hint(h)])),
    fields: new Map(Object.entries(hints.fields).map(([field, h]) => [field, hint(h)])),
    tags,
    invalidations: new Map(Object.entries(settings.invalidate ?? {})),
  };
}

/** Every client header the config passes on to a backend, lower-cased, sorted. */
function forwardedHeaders(config: GatewayConfig | undefined): readonly string[] {
  const names = new Set<string>();
  for (const subgraph of Object.values(config?.subgraphs ?? {})) {
    for (const name of subgraph.forward_headers ?? []) names.add(name);
    const source = subgraph.source as { forward_headers?: readonly string[] } | undefined;
    for (const name of source?.forward_headers ?? []) names.add(name);
  }
  return [...names].sort();
}

/** A cache key: the parts that decide the answer, hashed so keys stay short whatever they hold. */
export function cacheKey(kind: string, parts: readonly string[]): string {
  return `${kind}:${createHash('sha256').update(parts.join('\0')).digest('base64url')}`;
}

/** What of the caller a private entry is keyed by: who verified them and as whom. */
export function identityKey(identity: Identity): string {
  return `${identity.kind}\0${identity.issuer ?? ''}\0${identity.subject}`;
}

/** The values of the `vary` headers on this request. */
export function varyValues(cache: GraphCache, ctx: RequestContext): string {
  if (cache.vary.length === 0) return '';
  return cache.vary
    .map((name) => {
      const value = ctx.headers[name];
      return Array.isArray(value) ? value.join(', ') : (value ?? '');
    })
    .join('\0');
}

/** JSON with object keys sorted, so equal values give equal keys. */
export function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const object = value as Record<string, unknown>;
  return `{${Object.keys(object)
    .sort()
    .filter((k) => object[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${stableJson(object[k])}`)
    .join(',')}}`;
}

/** Seconds since the entry was stored, whole, as `Age` counts them (RFC 9111 section 5.1). */
export function ageOf(entry: CacheEntry, now: number): number {
  return Math.max(0, Math.floor((now - entry.storedAt) / 1000));
}

/** `fresh`, `stale` (past max-age, within stale-while-revalidate) or `expired`. */
export function freshness(entry: CacheEntry, now: number): 'fresh' | 'stale' | 'expired' {
  const age = (now - entry.storedAt) / 1000;
  if (age < entry.maxAge) return 'fresh';
  return age < entry.maxAge + entry.staleWhileRevalidate ? 'stale' : 'expired';
}

/** The `Cache-Control` of an answer under `policy`: `no-store` when nothing may keep it. */
export function cacheControlHeader(policy: CachePolicy | undefined): string {
  if (!policy || policy.maxAge <= 0) return 'no-store';
  const swr =
    policy.staleWhileRevalidate > 0
      ? `, stale-while-revalidate=${policy.staleWhileRevalidate}`
      : '';
  return `max-age=${policy.maxAge}, ${policy.scope.toLowerCase()}${swr}`;
}

/**
 * The `Cache-Control` answers of the operation's backends that narrow what it may keep: all of
 * them but those of the backends `cache.ignore_cache_control` names.
 */
export function answersOf(ctx: RequestContext): string[] {
  const ignored = ctx.snapshot.cache.settings.ignore_cache_control;
  const answers: string[] = [];
  for (const { backend, value } of cacheControlOf(ctx))
    if (!ignored.includes(backend)) answers.push(value);
  return answers;
}

/** Publishes on `gateway:cache` for the request's app, when someone listens. */
export function publishCache(ctx: RequestContext, signal: CacheSignal): void {
  if (channels.cache.hasSubscribers) channels.cache.publish({ ...signal, scope: ctx.scope });
}
