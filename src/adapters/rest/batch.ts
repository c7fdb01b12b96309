import DataLoader from 'dataloader';
import type { RequestContext } from '../../kernel/context.ts';
import { ErrorCode, GatewayError } from '../../kernel/errors.ts';
import type { EntityCall, RestMapping } from './directives.ts';
import type { RestCaller } from './executor.ts';

type Ref = Record<string, unknown>;

/**
 * Entity references resolved through one DataLoader per request and type: the representations
 * of one `_entities` fetch (and of every other fetch in the same request) are deduplicated by key
 * and sent as few calls as the mapping allows: one per `maxBatch` keys for a batch endpoint, one
 * per distinct key (at most `concurrency` at a time) otherwise. A key the backend does not know
 * resolves to null, as federation expects of a missing entity.
 */
export function createEntityLoaders(mapping: RestMapping, call: RestCaller) {
  const perRequest = new WeakMap<object, Map<string, DataLoader<Ref, unknown>>>();

  function loaderFor(type: string, ctx: RequestContext | undefined): DataLoader<Ref, unknown> {
    const entity = mapping.entities.get(type) as EntityCall;
    const create = () =>
      new DataLoader<Ref, unknown, string>(
        (refs) =>
          entity.mode === 'batch' ? loadBatch(entity, refs, ctx) : loadEach(entity, refs, ctx),
        {
          cacheKeyFn: (ref) => JSON.stringify(entity.keyFields.map((k) => ref[k])),
          maxBatchSize: entity.mode === 'batch' ? entity.maxBatch : Infinity,
        },
      );
    if (!ctx) return create();
    let loaders = perRequest.get(ctx);
    if (!loaders) perRequest.set(ctx, (loaders = new Map()));
    let loader = loaders.get(type);
    if (!loader) loaders.set(type, (loader = create()));
    return loader;
  }

  /** The JSON property a key field is read from (it may be renamed with @restField). */
  const jsonKey = (type: string, field: string) => mapping.renames.get(`${type}.${field}`) ?? field;

  async function loadBatch(
    entity: EntityCall,
    refs: readonly Ref[],
    ctx: RequestContext | undefined,
  ) {
    const type = typeOfEntity(entity);
    const keys = Object.fromEntries(entity.keyFields.map((k) => [k, refs.map((r) => r[k])]));
    const found = await call(entity, { keys }, ctx);
    if (!Array.isArray(found)) {
      return refs.map(
        () =>
          new GatewayError(
            ErrorCode.UPSTREAM_ERROR,
            `Entity batch ${entity.label} did not answer a list.`,
            { extensions: {} },
          ),
      );
    }
    const index = new Map<string, unknown>();
    for (const item of found) {
      if (item && typeof item === 'object') {
        index.set(
          JSON.stringify(entity.keyFields.map((k) => normalise((item as Ref)[jsonKey(type, k)]))),
          item,
        );
      }
    }
    return refs.map((ref) => {
      const item = index.get(JSON.stringify(entity.keyFields.map((k) => normalise(ref[k]))));
      return item === undefined ? null : { ...ref, ...(item as Ref) };
    });
  }

  async function loadEach(
    entity: EntityCall,
    refs: readonly Ref[],
    ctx: RequestContext | undefined,
  ) {
    const results: unknown[] = new Array(refs.length);
    let next = 0;
    const worker = async () => {
      while (next < refs.length) {
        const i = next++;
        const ref = refs[i] as Ref;
        try {
          const item = await call(entity, { key: ref }, ctx);
          results[i] = item === null || item === undefined ? null : { ...ref, ...(item as Ref) };
        } catch (error) {
          // A key the backend does not know is a missing entity, not a failure.
          results[i] =
            error instanceof GatewayError && error.code === ErrorCode.NOT_FOUND ? null : error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(entity.concurrency, refs.length) }, worker));
    return results;
  }

  const typeByEntity = new Map<EntityCall, string>(
    [...mapping.entities].map(([type, e]) => [e, type]),
  );
  const typeOfEntity = (entity: EntityCall) => typeByEntity.get(entity) as string;

  return {
    load(type: string, ref: Ref, ctx: RequestContext | undefined): Promise<unknown> {
      return loaderFor(type, ctx).load(ref);
    },
  };
}

/** Keys arrive as strings (ID) but backends may answer numbers: compare them as strings. */
function normalise(value: unknown): unknown {
  return typeof value === 'number' ? String(value) : value;
}
