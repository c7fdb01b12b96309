import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestContext } from '../../kernel/context.ts';
import { ErrorCode } from '../../kernel/errors.ts';

/**
 * graphql-js's message when `parse` stops at `maxTokens` (language/parser.js, advanceLexer;
 * graphql 16 spells it "more that"). A unit test holds this to the installed parser.
 */
const TOO_MANY_TOKENS = /Document contains more tha[nt] (\d+) tokens/;

/**
 * Gives a document the parser stopped at `limits.operation.max_tokens` its own code,
 * MAX_TOKENS_LIMIT, with the limit in its extensions: Apollo Server reports it as any syntax
 * error (GRAPHQL_PARSE_FAILED), which under `application/json` answers 200 (a client's syntax
 * to fix) and says nothing of a limit. Listed first among the plugins: Apollo Server calls
 * `didEncounterErrors` hooks in order, and the error log and events read the code this sets.
 */
export function parseLimitsPlugin(): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors }) {
          for (const error of errors) {
            if (error.extensions.code !== 'GRAPHQL_PARSE_FAILED') continue;
            const max = TOO_MANY_TOKENS.exec(error.message)?.[1];
            if (max === undefined) continue;
            // Apollo Server built this error and its extensions for this request alone.
            error.message = `Maximum tokens limit exceeded in this document: more than ${max}, max_tokens: ${max}.`;
            Object.assign(error.extensions as Record<string, unknown>, {
              code: ErrorCode.MAX_TOKENS_LIMIT,
              limit: 'max_tokens',
              max: Number(max),
            });
          }
        },
      };
    },
  };
}
