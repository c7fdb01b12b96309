import type { ApolloServer } from '@apollo/server';
import { createSubOperationContext, type RequestContext } from '../kernel/context.ts';
import { ErrorCode, GatewayError } from '../kernel/errors.ts';
import type { GraphRunner } from '../kernel/graph-runner.ts';

/**
 * How deep BFF operations may nest: a resolver's operation reaching a BFF field whose resolver
 * runs another, and so on. Deeper is a loop in the resolvers, refused rather than run forever.
 */
const MAX_DEPTH = 3;

/**
 * Runs BFF operations through the gateway's own Apollo Server (`executeOperation`), over a
 * context made from the caller's (createSubOperationContext): Apollo Server validates it
 * against the full API schema, the operation stages judge it (limits, cost, authorization as
 * the caller) and charge it (cost budgets; request budgets counted the request already), and
 * its fetches go through the same data sources and outbound chain, published on the same
 * channels under the request. Its errors come back formatted as a client's are.
 */
export function createGraphRunner(apollo: ApolloServer<RequestContext>): GraphRunner {
  return {
    async run(ctx, request) {
      if ((ctx.subOperation ?? 0) >= MAX_DEPTH)
        throw new GatewayError(
          ErrorCode.INTERNAL_SERVER_ERROR,
          `BFF operations nest more than ${MAX_DEPTH} deep: a resolver's operation reaches itself.`,
        );
      const response = await apollo.executeOperation(
        {
          query: request.query,
          ...(request.variables ? { variables: { ...request.variables } } : {}),
          ...(request.operationName ? { operationName: request.operationName } : {}),
        },
        { contextValue: createSubOperationContext(ctx) },
      );
      if (response.body.kind !== 'single')
        throw new GatewayError(
          ErrorCode.INTERNAL_SERVER_ERROR,
          'A BFF operation cannot use incremental delivery (@defer, @stream).',
        );
      const { data, errors } = response.body.singleResult;
      return { data, errors };
    },
  };
}
