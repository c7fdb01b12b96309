import type { ApolloServerPlugin } from '@apollo/server';
import type { SupergraphSnapshot } from '../../composition/sources.ts';
import type { RequestContext } from '../../kernel/context.ts';
import { runStages, type StageEntry } from '../pipeline.ts';

/**
 * Runs the `operation` stages when Apollo Server has resolved the operation: after parsing and
 * validation, before the gateway plans a single fetch. A stage that throws ends the request with
 * its error (Apollo Server answers with it and the HTTP status in its extensions).
 */
export function stagesPlugin(
  stages: readonly StageEntry[],
  current: () => SupergraphSnapshot | undefined,
): ApolloServerPlugin<RequestContext> {
  const operationStages = stages.filter((stage) => stage.event === 'operation');
  return {
    async requestDidStart() {
      if (operationStages.length === 0) return;
      return {
        async didResolveOperation({ contextValue: ctx, document, operationName, request, schema }) {
          const snapshot = current();
          if (!snapshot) return;
          ctx.operation = {
            document,
            name: operationName ?? undefined,
            variables: request.variables ?? {},
            schema,
            supergraphSdl: snapshot.supergraph.sdl,
            listSize: snapshot.limits.cost.list_size,
          };
          await runStages(operationStages, 'operation', ctx);
        },
      };
    },
  };
}
