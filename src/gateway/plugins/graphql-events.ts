import type { ApolloServerPlugin } from '@apollo/server';
import { channels, type GraphQLEvent, type GraphQLPhase } from '../../kernel/channels.ts';
import type { RequestContext } from '../../kernel/context.ts';

const outcomeOf = (failed: boolean) => (failed ? 'GRAPHQL_FAILED' : 'ok');

/**
 * What the GraphQL layer knows of a request: the operation name, document hash and error codes
 * go into the request's facts; the phases (parse, validate, execute) and cache lookups are
 * published on `gateway:graphql` for logs, metrics and traces to subscribe to. The end of
 * planning comes from the gateway's query-plan callback (build-gateway.ts).
 */
export function graphqlEventsPlugin(): ApolloServerPlugin<RequestContext> {
  const publish = (event: GraphQLEvent) => {
    if (channels.graphql.hasSubscribers) channels.graphql.publish(event);
  };
  const phase = (ctx: RequestContext, name: GraphQLPhase) => {
    publish({ ctx, phase: name });
    return (failed: boolean) => publish({ ctx, phase: name, outcome: outcomeOf(failed) });
  };
  return {
    async requestDidStart({ contextValue: ctx, request }) {
      // Apollo Server parses and validates only documents not in its document cache, and takes
      // the text of an automatic persisted query (hash, no query) from the APQ cache.
      let parsed = false;
      const byHash =
        request.query === undefined && request.extensions?.persistedQuery !== undefined;
      return {
        async didResolveSource({ queryHash }) {
          ctx.facts.documentHash = queryHash;
          if (byHash) publish({ ctx, cache: 'apq', hit: true });
        },
        async parsingDidStart() {
          parsed = true;
          publish({ ctx, cache: 'document', hit: false });
          const end = phase(ctx, 'parse');
          return async (error) => end(error !== undefined);
        },
        async validationDidStart() {
          const end = phase(ctx, 'validate');
          return async (errors) => end(errors !== undefined && errors.length > 0);
        },
        async didResolveOperation({ operationName }) {
          if (!parsed) publish({ ctx, cache: 'document', hit: true });
          if (operationName) ctx.facts.operationName = operationName;
        },
        async executionDidStart() {
          const end = phase(ctx, 'execute');
          return {
            async executionDidEnd(error) {
              end(error !== undefined);
            },
          };
        },
        async didEncounterErrors({ errors }) {
          for (const error of errors) {
            const code = error.extensions?.code;
            if (code === 'PERSISTED_QUERY_NOT_FOUND') publish({ ctx, cache: 'apq', hit: false });
            ctx.facts.errorCodes.add(typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR');
          }
        },
      };
    },
  };
}
