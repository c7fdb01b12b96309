import type { GraphQLFormattedError } from 'graphql';
import type { RequestContext } from './context.ts';

/** One operation a BFF resolver runs against the federated graph. */
export interface GraphRequest {
  readonly query: string;
  readonly variables?: Readonly<Record<string, unknown>> | undefined;
  readonly operationName?: string | undefined;
}

/** Its result, errors formatted (and masked in production) as a client would see them. */
export interface GraphResult {
  readonly data?: Record<string, unknown> | null | undefined;
  readonly errors?: readonly GraphQLFormattedError[] | undefined;
}

/**
 * Runs an operation against the whole federated graph in-process, for a request: the operation
 * stages judge and charge it as the request's caller (gateway/graph-runner.ts). BFF subgraphs
 * (bff/aggregation) are built with the snapshot, before the Apollo Server that runs operations
 * exists, so they get a late-bound runner (`createLateGraphRunner`) that server/app.ts binds.
 */
export interface GraphRunner {
  run(ctx: RequestContext, request: GraphRequest): Promise<GraphResult>;
}

/** A runner whose implementation is given later, once; running before that is an error. */
export function createLateGraphRunner(): GraphRunner & { bind(runner: GraphRunner): void } {
  let bound: GraphRunner | undefined;
  return {
    bind(runner) {
      bound = runner;
    },
    run(ctx, request) {
      if (!bound)
        return Promise.reject(new Error('internal: no GraphQL engine runs BFF operations here'));
      return bound.run(ctx, request);
    },
  };
}
