import DataLoader from 'dataloader';
import { Kind, type ConstDirectiveNode } from 'graphql';
import type { RequestContext } from '../kernel/context.ts';
import { ErrorCode, GatewayError, UpstreamError } from '../kernel/errors.ts';
import type { Located } from './sdl-issue.ts';
import { select } from './select.ts';
import type { Values } from './template.ts';

type Ref = Record<string, unknown>;

/** Keys per call of a batch entity, when the directive does not say (`maxBatch`). */
export const DEFAULT_MAX_BATCH = 100;
/** Calls in flight at once for a per-key entity, when the directive does not say. */
export const DEFAULT_CONCURRENCY = 8;

/** The arguments @restEntity and @grpcEntity take beside their call's. */
export const ENTITY_LIMITS: ReadonlySet<string> = new Set(['maxBatch', 'concurrency']);

/**
 * `maxBatch` and `concurrency` of an entity directive: positive integers, the defaults when
 * absent. Anything else is reported at its node (0 would stall every reference).
 */
export function readEntityLimits(
  directive: ConstDirectiveNode,
  report: (node: Located, message: string) => void,
): { maxBatch: number; concurrency: number } {
  const limit = (name: string, fallback: number) => {
    const node = directive.arguments?.find((a) => a.name.value === name)?.value;
    if (!node) return fallback;
    const value = node.kind === Kind.INT ? Number(node.value) : NaN;
    if (Number.isSafeInteger(value) && value > 0) return value;
    report(node, `${name} expects a positive integer`);
    return fallback;
  };
  return {
    maxBatch: limit('maxBatch', DEFAULT_MAX_BATCH),
    concurrency: limit('concurrency', DEFAULT_CONCURRENCY),
  };
}

/** How references to one entity type resolve, whatever the backend (@restEntity, @grpcEntity). */
export interface EntityResolution {
  /** `batch`: one call for many keys (`{keys.*}`); `key`: one call per key (`{key.*}`). */
  readonly mode: 'batch' | 'key';
  readonly keyFields: readonly string[];
  /** Batch mode: at most this many keys in one call. */
  readonly maxBatch: number;
  /** Per-key mode: at most this many calls at a time. */
  readonly concurrency: number;
  /** The call in errors, without values: `GET /users`, `OrderService.BatchGetOrders`. */
  readonly label: string;
}

export interface EntityLoaderOptions<E extends EntityResolution> {
  subgraph: string;
  /** By entity type name. */
  entities: ReadonlyMap<string, E>;
  /**
   * One backend call, its answer already at the call's `select`: with `{ keys }` (each key
   * field's values, in the order of the references) in batch mode, with `{ key }` per key.
   */
  call: (entity: E, values: Values, ctx: RequestContext | undefined) => Promise<unknown>;
  /**
   * The property of an answered entity that holds a key field (REST's @restField renames), a
   * dotted path for one inside a nested object.
   */
  itemKey?: (type: string, field: string) => string;
}

export interface EntityLoaders {
  /** The entity a reference stands for, or null when the backend does not know its key. */
  load(type: string, ref: Ref, ctx: RequestContext | undefined): Promise<unknown>;
}

/**
 * Entity references resolved through one DataLoader per request and type, for REST and gRPC
 * alike: the representations of one `_entities` fetch (and of every other fetch in the same
 * request) are deduplicated by key and sent as few calls as the mapping allows, one per
 * `maxBatch` keys for a batch call, one per distinct key (at most `concurrency` at a time)
 * otherwise. `_entities` answers `[_Entity]!`, null for an entity that does not exist
 * (https://www.apollographql.com/docs/federation/subgraph-spec/, "Resolve requests for
 * entities"): a key missing from a batch answer, a NOT_FOUND per-key call and an empty answer
 * are null. An answer of the wrong shape (a batch answer that is not a list, a per-key answer
 * that is not an object) is the backend's fault: UPSTREAM_ERROR on every reference it was for.
 * The entity is the answer over its reference, so fields the reference carried (`__typename`,
 * fields `@requires` asked for) stay readable.
 */
export function createEntityLoaders<E extends EntityResolution>(
  options: EntityLoaderOptions<E>,
): EntityLoaders {
  const { subgraph, entities, call } = options;
  const itemKey = options.itemKey ?? ((_type: string, field: string) => field);
  const perRequest = new WeakMap<object, Map<string, DataLoader<Ref, unknown, string>>>();

  function create(type: string, ctx: RequestContext | undefined) {
    const entity = entities.get(type);
    if (!entity) throw new Error(`internal: ${type} is not an entity of ${subgraph}`);
    const keyOf = (ref: Ref) => keyText(entity.keyFields.map((field) => ref[field]));
    const wrongShape = (answer: unknown, expected: string) =>
      new UpstreamError(
        subgraph,
        `answered ${entity.label} with ${shapeOf(answer)} where ${expected} was expected`,
        { publicReason: `answered with ${shapeOf(answer)} where ${expected} was expected` },
      );

    const loadBatch = async (refs: readonly Ref[]) => {
      const keys = Object.fromEntries(
        entity.keyFields.map((field) => [field, refs.map((ref) => ref[field])]),
      );
      const answer = await call(entity, { keys }, ctx);
      if (!Array.isArray(answer)) return refs.map(() => wrongShape(answer, 'a list of entities'));
      const found = new Map<string, Ref>();
      for (const item of answer) {
        if (!isEntity(item)) continue;
        found.set(
          keyText(entity.keyFields.map((field) => select(item, itemKey(type, field).split('.')))),
          item,
        );
      }
      return refs.map((ref) => {
        const item = found.get(keyOf(ref));
        return item === undefined ? null : { ...ref, ...item };
      });
    };

    const loadOne = async (ref: Ref) => {
      try {
        const answer = await call(entity, { key: ref }, ctx);
        if (answer === null || answer === undefined) return null;
        return isEntity(answer) ? { ...ref, ...answer } : wrongShape(answer, 'an entity');
      } catch (error) {
        // A key the backend does not know is a missing entity, not a failure.
        if (error instanceof GatewayError && error.code === ErrorCode.NOT_FOUND) return null;
        return error instanceof Error ? error : new Error(String(error));
      }
    };

    const loadEach = async (refs: readonly Ref[]) => {
      const results: unknown[] = new Array(refs.length);
      let next = 0;
      const worker = async () => {
        while (next < refs.length) {
          const i = next++;
          results[i] = await loadOne(refs[i] as Ref);
        }
      };
      await Promise.all(Array.from({ length: Math.min(entity.concurrency, refs.length) }, worker));
      return results;
    };

    return new DataLoader<Ref, unknown, string>(entity.mode === 'batch' ? loadBatch : loadEach, {
      cacheKeyFn: keyOf,
      maxBatchSize: entity.mode === 'batch' ? entity.maxBatch : Infinity,
    });
  }

  function loaderFor(type: string, ctx: RequestContext | undefined) {
    // Without a request there is nothing to share a loader with.
    if (!ctx) return create(type, ctx);
    let loaders = perRequest.get(ctx);
    if (!loaders) perRequest.set(ctx, (loaders = new Map()));
    let loader = loaders.get(type);
    if (!loader) loaders.set(type, (loader = create(type, ctx)));
    return loader;
  }

  return { load: (type, ref, ctx) => loaderFor(type, ctx).load(ref) };
}

/**
 * One key as text. Key values compare as strings: a reference's `ID` arrives as "1" where the
 * backend may answer 1, and both are the same entity.
 */
function keyText(values: readonly unknown[]): string {
  return JSON.stringify(
    values.map((value) =>
      typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value),
    ),
  );
}

function isEntity(value: unknown): value is Ref {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function shapeOf(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null || value === undefined) return 'nothing';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
