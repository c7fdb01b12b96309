import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestContext } from '../../kernel/context.ts';
import type { Pipeline } from '../pipeline.ts';

/**
 * Runs the `operation` stages when Apollo Server has resolved the operation: after parsing and
 * validation, before the gateway plans a single fetch. A stage that throws ends the request with
 * its error (Apollo Server answers with it and the HTTP status in its extensions).
 */
export function stagesPlugin(pipeline: Pipeline): ApolloServerPlugin<RequestContext> {
  if (!pipeline.has('operation', 'graphql')) return {};
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ contextValue: ctx, document, operationName, request, schema }) {
          ctx.operation = {
            document,
            name: operationName ?? undefined,
            variables: request.variables ?? {},
            schema,
          };
          await pipeline.run('operation', ctx);
        },
      };
    },
  };
}
