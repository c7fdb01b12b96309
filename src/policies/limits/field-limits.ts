import {
  defaultFieldResolver,
  isObjectType,
  type GraphQLFieldResolver,
  type GraphQLResolveInfo,
  type GraphQLSchema,
} from 'graphql';
import type { getGraphQLRateLimiter } from 'graphql-rate-limit';
import type { RequestContext } from '../../kernel/context.ts';
import { ErrorCode, GatewayError } from '../../kernel/errors.ts';
import type { FieldLimit } from '../../kernel/field-limit.ts';
import { rateIdentity } from './rate-identity.ts';
import type { LimitStore } from './stores/store.ts';
import { TakeStore } from './take-store.ts';

type GetRateLimiter = typeof getGraphQLRateLimiter;
let library: Promise<GetRateLimiter> | undefined;
/**
 * graphql-rate-limit pulls in graphql-shield and its dependencies (50-80 ms to load): loaded
 * when a limited field first resolves, so a graph without `@rateLimit` never pays for it.
 */
const loadLibrary = () =>
  (library ??= import('graphql-rate-limit').then((m) => m.getGraphQLRateLimiter));

export interface FieldLimitOptions {
  /** The subgraph whose schema it is: in budget names and on refusals. */
  readonly subgraph: string;
  /** Where budgets are kept. @default the request's snapshot's store (`ctx.snapshot.limitStore`) */
  readonly storeOf?: (ctx: RequestContext) => LimitStore;
  /** Whose budget a resolution spends. @default rateIdentity */
  readonly identify?: (ctx: RequestContext) => string;
}

/**
 * Puts each field's `@rateLimit` in front of its resolver, in place: before the resolver runs
 * (and so before its backend call), the resolution spends one unit of the caller's budget for
 * the field, and a refused one is null with a `RATE_LIMITED` error at its path while the rest
 * of the operation is served. Every resolution counts: a limited field under a list of 20
 * parents spends 20, and past the budget the remaining items get null each (docs/limits.md).
 */
export function limitFields(
  schema: GraphQLSchema,
  limits: ReadonlyMap<string, FieldLimit>,
  options: FieldLimitOptions,
): void {
  const storeOf = options.storeOf ?? ((ctx: RequestContext) => ctx.snapshot.limitStore);
  const identify = options.identify ?? rateIdentity;
  for (const [coordinate, limit] of limits) {
    const [typeName = '', fieldName = ''] = coordinate.split('.');
    const type = schema.getType(typeName);
    const field = isObjectType(type) ? type.getFields()[fieldName] : undefined;
    if (!field)
      throw new Error(`internal: @rateLimit on ${coordinate}, which is not in the schema`);
    const resolve: GraphQLFieldResolver<unknown, unknown> = field.resolve ?? defaultFieldResolver;
    field.resolve = async (parent, args, ctx: RequestContext | undefined, info) => {
      if (!ctx)
        throw new Error(`internal: ${coordinate} is rate limited and resolved outside a request`);
      const refusal = await spend(options.subgraph, coordinate, limit, {
        store: storeOf(ctx),
        identity: identify(ctx),
        parent,
        args,
        ctx,
        info,
      });
      if (refusal) throw refusal;
      return resolve(parent, args, ctx, info);
    };
  }
}

interface Resolution {
  readonly store: LimitStore;
  readonly identity: string;
  readonly parent: unknown;
  readonly args: Record<string, unknown>;
  readonly ctx: RequestContext;
  readonly info: GraphQLResolveInfo;
}

/**
 * One resolution through graphql-rate-limit's `getGraphQLRateLimiter`, over a `TakeStore` made
 * for it: the refusal, or undefined when admitted.
 */
async function spend(
  subgraph: string,
  coordinate: string,
  limit: FieldLimit,
  call: Resolution,
): Promise<GatewayError | undefined> {
  const getRateLimiter = await loadLibrary();
  const store = new TakeStore(call.store, `field:${subgraph}`, {
    limit: limit.max,
    windowMs: limit.windowMs,
  });
  const limiter = getRateLimiter({
    identifyContext: () => call.identity,
    store,
    formatError: ({ fieldName, max }) =>
      `Too many requests for ${fieldName}: at most ${max} per ${limit.window}.`,
  });
  // The library keys the budget by `info.fieldName` (and the `identityArgs` values); given the
  // coordinate instead, `User.orders` and `Query.orders` are two budgets.
  const message = await limiter(
    {
      parent: call.parent,
      args: call.args,
      context: call.ctx,
      info: { ...call.info, fieldName: coordinate },
    },
    { window: limit.window, max: limit.max, identityArgs: limit.identityArgs },
  );
  if (message === undefined) return undefined;
  const retryAfterMs = store.decision?.retryAfterMs ?? limit.windowMs;
  return new GatewayError(ErrorCode.RATE_LIMITED, message, {
    subgraph,
    extensions: {
      field: coordinate,
      window: limit.window,
      max: limit.max,
      // Whole seconds, rounded up, as Retry-After counts them (RFC 9110, section 10.2.3).
      retryAfter: Math.ceil(retryAfterMs / 1000),
    },
  });
}
