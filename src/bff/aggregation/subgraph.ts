import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse, Source, type GraphQLResolveInfo } from 'graphql';
import type { AdapterSubgraph } from '../../adapters/subgraph.ts';
import type { ResolverMap } from '../../config/bff-module.ts';
import type { RestSource } from '../../config/schema.ts';
import type { RequestContext } from '../../kernel/context.ts';
import type { GraphRunner } from '../../kernel/graph-runner.ts';
import type { BffContext } from './api.ts';
import { createBffHelper } from './helper.ts';

export interface BffSubgraphInput {
  readonly name: string;
  /** The SDL (`schema.file` or `schema.sdl`) and the file its locations point into. */
  readonly sdl: string;
  readonly file: string;
  /** The module's `resolvers`, already checked against the SDL at load (config/bff-module.ts). */
  readonly resolvers: ResolverMap;
  readonly graph: GraphRunner;
  /** The REST sources it may call (`source.rest`), by subgraph name. */
  readonly rest: ReadonlyMap<string, RestSource>;
}

/**
 * A BFF subgraph: the module's resolvers over its SDL, built with @apollo/subgraph's
 * buildSubgraphSchema and run in-process like an adapter (gateway/data-sources/
 * local-data-source.ts). Each resolver gets `{ bff }` as its context instead of the request
 * context: one helper per request, so its loaders are the request's alone.
 *
 * Sections resolve concurrently with nothing done here for it: graphql-js resolves the fields
 * of a query's selection set together (https://spec.graphql.org/October2021/#sec-Normal-and-Serial-Execution),
 * so `Home.viewer`, `Home.recentOrders` and `Home.recommended` wait on each other only where
 * they share a loader's batch. A resolver that throws nulls its own field (nullable fields stop
 * the null there) and leaves its error at that path.
 */
export function buildBffSubgraph(input: BffSubgraphInput): AdapterSubgraph {
  const document = parse(new Source(input.sdl, input.file));
  const contexts = new WeakMap<RequestContext, BffContext>();
  const contextOf = (ctx: RequestContext): BffContext => {
    let context = contexts.get(ctx);
    if (!context) {
      context = {
        bff: createBffHelper(ctx, { subgraph: input.name, graph: input.graph, rest: input.rest }),
      };
      contexts.set(ctx, context);
    }
    return context;
  };
  const resolvers: Record<string, Record<string, unknown>> = {};
  for (const [type, fields] of Object.entries(input.resolvers)) {
    resolvers[type] = Object.fromEntries(
      Object.entries(fields).map(([field, resolver]) => [field, wrap(field, resolver, contextOf)]),
    );
  }
  return {
    document,
    // @apollo/subgraph does not export its resolver map type from the package root.
    schema: buildSubgraphSchema({ typeDefs: document, resolvers: resolvers as never }),
    sdl: input.sdl,
    fieldLimits: new Map(),
    warnings: [],
  };
}

type ContextOf = (ctx: RequestContext) => BffContext;

/** A resolver with the request context swapped for `{ bff }`, wherever its kind takes context. */
function wrap(field: string, resolver: unknown, contextOf: ContextOf): unknown {
  if (typeof resolver !== 'function') {
    // `{ resolve }` field configs; anything else (an enum's values) is passed on as it is.
    const config = resolver as { resolve?: unknown } | null;
    if (typeof config?.resolve !== 'function') return resolver;
    return { ...config, resolve: wrap(field, config.resolve, contextOf) };
  }
  const fn = resolver as (...args: unknown[]) => unknown;
  // __resolveReference(reference, context, info), __resolveType and __isTypeOf(value, context, info)
  if (field === '__resolveReference' || field === '__resolveType' || field === '__isTypeOf')
    return (value: unknown, ctx: RequestContext, info: GraphQLResolveInfo) =>
      fn(value, contextOf(ctx), info);
  return (parent: unknown, args: unknown, ctx: RequestContext, info: GraphQLResolveInfo) =>
    fn(parent, args, contextOf(ctx), info);
}
