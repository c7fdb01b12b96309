import { createHash } from 'node:crypto';
import { print } from 'graphql';
import type { RequestContext } from '../../kernel/context.ts';
import { entitiesIn } from './entities.ts';
import { within } from './fills.ts';
import {
  ageOf,
  answersOf,
  cacheControlHeader,
  cacheKey,
  freshness,
  identityKey,
  publishCache,
  stableJson,
  varyValues,
  type GraphCache,
} from './graph-cache.ts';
import { parseCacheControl } from './hints.ts';
import { operationPolicy, restrict, type CachePolicy, type OperationPolicy } from './policy.ts';
import type { CacheEntry } from './store.ts';
import { declaredTag, typeTag } from './tags.ts';

/**
 * The response cache: whole query answers, keyed by everything that decides them (the graph,
 * the client and its contract, the document, the variables, the client headers backends see,
 * and for private data the verified caller). The `cacheLookup` stage looks up; the GraphQL
 * layer serves a hit in place of execution and hands every answer to `storeResponse`
 * (gateway/plugins/response-cache.ts), which stores it when its policy allows and sets its
 * `Cache-Control` and `Age`.
 */

/** The keys an answer may be stored at: public (when its hints allow), per caller (when verified). */
interface Keys {
  readonly public: string | undefined;
  readonly private: string | undefined;
}

/** What the lookup decided for one operation. */
type Lookup =
  /** Served from the cache: `stale` when past max-age, served while another request refreshes it. */
  | { readonly kind: 'hit'; readonly entry: CacheEntry; readonly stale: boolean }
  /** Not served from the cache: this request's answer is stored (if cacheable) at one of `keys`. */
  | {
      readonly kind: 'fill';
      readonly policy: OperationPolicy;
      readonly keys: Keys;
      /** Ends this request's fill (waiters get `entry`) and releases the store's lock. */
      readonly release: (entry: CacheEntry | undefined) => void;
    }
  /** Not cacheable, whatever the answer (a mutation, max-age 0, private data of an anonymous caller). */
  | { readonly kind: 'pass'; readonly policy: OperationPolicy };

/** Who fills a key: this request (holding this process's fill, and the store's lock if it got it). */
interface Claim {
  readonly release: ((entry: CacheEntry | undefined) => void) | undefined;
  readonly locked: string | undefined;
}

const lookups = new WeakMap<RequestContext, Lookup>();

/** Operations whose client asked for a fresh answer (`no-cache`, where allowed): no cache answers them. */
const refreshing = new WeakSet<RequestContext>();

/** Whether the client asked that nothing be served from a cache (the entity cache reads it too). */
export function refreshes(ctx: RequestContext): boolean {
  return refreshing.has(ctx);
}

/** How often a request waiting on another instance's fill looks for its entry. */
const POLL_MS = 20;

/**
 * The `cacheLookup` stage: after every stage that may refuse the operation (authorization
 * above all: a cached answer must be one this caller may read) and before the gateway plans a
 * fetch. A hit is served by the GraphQL layer; a miss becomes this request's fill, which others
 * missing the same key wait for.
 */
export async function cacheLookup(ctx: RequestContext): Promise<void> {
  const cache = ctx.snapshot.cache;
  const operation = ctx.operation;
  if (!operation) return;
  const policy = operationPolicy(
    operation.schema,
    cache.hints,
    cache.settings.default_max_age,
    operation.document,
    operation.name,
  );
  const on = cache.settings.enabled && cache.settings.response.enabled;
  if (!on || policy.rootType !== operation.schema.getQueryType()?.name || policy.maxAge <= 0) {
    lookups.set(ctx, { kind: 'pass', policy });
    return;
  }
  // Private data without a verified caller, or an operation the caller may not read whole (an
  // answer stored for a caller allowed more must not be served here): neither served nor stored.
  if ((policy.scope === 'PRIVATE' && !ctx.identity) || ctx.fieldsDenied) {
    lookups.set(ctx, { kind: 'pass', policy });
    return publish(ctx, policy, 'bypass');
  }
  const keys = keysOf(cache, ctx, policy);
  // The key this request fills: where its answer goes unless a backend narrows it to private.
  const own = (keys.public ?? keys.private) as string;
  if (cache.settings.response.client_no_cache && clientSaysNoCache(ctx)) {
    refreshing.add(ctx);
    publish(ctx, policy, 'bypass');
    return fill(ctx, policy, keys, { release: cache.fills.begin(own), locked: undefined });
  }
  const found = await cache.store.get([keys.private, keys.public].filter((k) => k !== undefined));
  const entry = found.find((e) => e !== undefined);
  const state = entry && freshness(entry, Date.now());
  if (entry && state === 'fresh') return hit(ctx, policy, entry, false);
  if (entry && state === 'stale') {
    // Served while one request (in this process; with the store's lock, in all) fetches it again.
    const key = entry.scope === 'PRIVATE' ? (keys.private as string) : own;
    if (cache.fills.join(key)) return hit(ctx, policy, entry, true);
    const release = cache.fills.begin(key);
    if (!(await cache.store.lock(key, cache.settings.lock_timeout))) {
      release(undefined);
      return hit(ctx, policy, entry, true);
    }
    return fill(ctx, policy, keys, { release, locked: key });
  }
  const claim = await claimFill(cache, ctx, own);
  if ('maxAge' in claim) return hit(ctx, policy, claim, false);
  return fill(ctx, policy, keys, claim);
}

/**
 * On a miss: the entry another request is filling, when one is (in this process: its fill; in
 * another instance: the store's lock, polled until its entry appears or the lock's time is up),
 * or this request's claim to fill it.
 */
async function claimFill(
  cache: GraphCache,
  ctx: RequestContext,
  key: string,
): Promise<CacheEntry | Claim> {
  const budget = () => Math.min(cache.settings.lock_timeout, ctx.deadline - performance.now());
  const joined = cache.fills.join(key);
  if (joined) return (await within(joined, budget())) ?? { release: undefined, locked: undefined };
  const release = cache.fills.begin(key);
  if (await cache.store.lock(key, cache.settings.lock_timeout)) return { release, locked: key };
  const until = performance.now() + budget();
  while (performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const [entry] = await cache.store.get([key]);
    if (entry) {
      release(entry);
      return entry;
    }
  }
  return { release, locked: undefined };
}

function hit(ctx: RequestContext, policy: OperationPolicy, entry: CacheEntry, stale: boolean) {
  lookups.set(ctx, { kind: 'hit', entry, stale });
  publish(ctx, policy, stale ? 'stale' : 'hit');
}

function fill(ctx: RequestContext, policy: OperationPolicy, keys: Keys, claim: Claim): void {
  const cache = ctx.snapshot.cache;
  let released = false;
  const release = (entry: CacheEntry | undefined) => {
    if (released) return;
    released = true;
    claim.release?.(entry);
    if (claim.locked) void cache.store.unlock(claim.locked);
  };
  // Whatever ends the request (an error, a timeout, the client gone), waiters are let go.
  ctx.onEnd.push(() => release(undefined));
  lookups.set(ctx, { kind: 'fill', policy, keys, release });
  if (ctx.facts.cache?.response !== 'bypass') publish(ctx, policy, 'miss');
}

/** The cached answer to serve in place of execution, if the lookup found one. */
export function cachedResponse(ctx: RequestContext): { data: unknown } | undefined {
  const lookup = lookups.get(ctx);
  if (lookup?.kind !== 'hit') return undefined;
  return { data: JSON.parse(lookup.entry.value) as unknown };
}

/**
 * Every query's answer passes here before it is sent: stored when its policy allows (no
 * errors, max-age above 0, private data only with a verified caller), and given the
 * `Cache-Control` (and on a hit `Age`) headers its policy makes. Returns those headers.
 */
export async function storeResponse(
  ctx: RequestContext,
  result: { readonly data?: unknown; readonly errors?: readonly unknown[] | undefined },
): Promise<Record<string, string>> {
  const lookup = lookups.get(ctx);
  if (!lookup) return {};
  if (lookup.kind === 'hit') {
    const { entry } = lookup;
    return {
      'cache-control': cacheControlHeader(entry),
      age: String(ageOf(entry, Date.now())),
    };
  }
  const failed = (result.errors?.length ?? 0) > 0 || result.data == null;
  const policy = failed ? undefined : finalPolicy(ctx, lookup.policy);
  const headers = { 'cache-control': cacheControlHeader(policy) };
  if (lookup.kind === 'pass') return headers;
  const key = policy?.scope === 'PRIVATE' ? lookup.keys.private : lookup.keys.public;
  if (!policy || policy.maxAge <= 0 || key === undefined) {
    lookup.release(undefined);
    return headers;
  }
  const cache = ctx.snapshot.cache;
  const operation = ctx.operation;
  const found = operation
    ? entitiesIn(operation.schema, cache.keys, operation.document, operation.name, result.data)
    : { keys: [], keyless: [] };
  const entry: CacheEntry = {
    cache: 'response',
    type: lookup.policy.rootType,
    value: JSON.stringify(result.data),
    storedAt: Date.now(),
    maxAge: policy.maxAge,
    staleWhileRevalidate: policy.staleWhileRevalidate,
    scope: policy.scope,
    tags: [
      ...lookup.policy.types.map(typeTag),
      ...lookup.policy.tags.map(declaredTag),
      ...found.keys,
      ...found.keyless,
    ],
  };
  await cache.store.set([{ key, entry }]);
  publishCache(ctx, { type: 'write', cache: 'response', bytes: entry.value.length });
  lookup.release(entry);
  return headers;
}

/** The operation's policy narrowed by what its backends answered. */
function finalPolicy(ctx: RequestContext, policy: CachePolicy): CachePolicy {
  let final: CachePolicy = policy;
  for (const header of answersOf(ctx)) final = restrict(final, parseCacheControl(header));
  return final;
}

function keysOf(cache: GraphCache, ctx: RequestContext, policy: OperationPolicy): Keys {
  const operation = ctx.operation;
  const parts = [
    cache.graph,
    ctx.client?.id ?? '',
    ctx.client?.contract?.key ?? '',
    operation ? stableDocument(ctx) : '',
    operation?.name ?? '',
    stableJson(operation?.variables ?? {}),
    varyValues(cache, ctx),
  ];
  const identity = ctx.identity;
  return {
    public: policy.scope === 'PUBLIC' ? cacheKey('response', parts) : undefined,
    private: identity ? cacheKey('response', [...parts, identityKey(identity)]) : undefined,
  };
}

/**
 * The document's hash, as Apollo Server computed it (sha256 of its text); else the printed
 * document's, so two documents never share a key.
 */
function stableDocument(ctx: RequestContext): string {
  const operation = ctx.operation;
  return (
    ctx.facts.documentHash ??
    (operation ? createHash('sha256').update(print(operation.document)).digest('hex') : '')
  );
}

function clientSaysNoCache(ctx: RequestContext): boolean {
  const header = ctx.headers['cache-control'];
  return typeof header === 'string' && /(^|,)\s*no-cache\s*(,|$)/i.test(header);
}

function publish(
  ctx: RequestContext,
  policy: OperationPolicy,
  result: 'hit' | 'stale' | 'miss' | 'bypass',
): void {
  ctx.facts.cache = { ...ctx.facts.cache, response: result };
  publishCache(ctx, {
    type: 'lookup',
    cache: 'response',
    entryType: policy.rootType,
    result,
    count: 1,
  });
}
