import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestContext } from '../../kernel/context.ts';
import type { Telemetry } from '../../observability/telemetry.ts';

/**
 * What the GraphQL layer knows of a request, for its log line, metrics and trace: the operation
 * name and document hash, the error codes, and spans for parsing, validation, planning and
 * execution (the end of planning comes from the gateway's query-plan callback).
 */
const outcomeOf = (failed: boolean) => (failed ? 'GRAPHQL_FAILED' : 'ok');

export function telemetryPlugin(telemetry: Telemetry): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart({ contextValue: ctx, request }) {
      ctx.facts.surface = 'graphql';
      // Apollo Server parses and validates only documents not in its document cache, and takes
      // the text of an automatic persisted query (hash, no query) from the APQ cache.
      let parsed = false;
      const byHash =
        request.query === undefined && request.extensions?.persistedQuery !== undefined;
      return {
        async didResolveSource({ queryHash }) {
          ctx.facts.documentHash = queryHash;
          if (byHash) telemetry.recordCache('apq', true);
        },
        async parsingDidStart() {
          parsed = true;
          telemetry.recordCache('document', false);
          const phase = telemetry.phase(ctx, 'graphql.parse');
          return async (error) => phase.finish(outcomeOf(error !== undefined));
        },
        async validationDidStart() {
          const phase = telemetry.phase(ctx, 'graphql.validate');
          return async (errors) =>
            phase.finish(outcomeOf(errors !== undefined && errors.length > 0));
        },
        async didResolveOperation({ operationName }) {
          if (!parsed) telemetry.recordCache('document', true);
          if (operationName) ctx.facts.operationName = operationName;
        },
        async executionDidStart() {
          telemetry.beginExecution(ctx);
          return {
            async executionDidEnd(error) {
              telemetry.endExecution(ctx, outcomeOf(error !== undefined));
            },
          };
        },
        async didEncounterErrors({ errors }) {
          for (const error of errors) {
            const code = error.extensions?.code;
            if (code === 'PERSISTED_QUERY_NOT_FOUND') telemetry.recordCache('apq', false);
            ctx.facts.errorCodes.add(typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR');
          }
        },
      };
    },
  };
}
