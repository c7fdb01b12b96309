import type { ApolloServerPlugin } from '@apollo/server';
import type { Logger } from 'pino';
import type { RequestContext } from '../../kernel/context.ts';

/**
 * Logs every error an operation produced, in full and with the correlation id, before
 * production masking rewrites what the client sees. Upstream and internal errors log at `error`,
 * client mistakes (parse, validation, bad input) at `info`.
 */
export function errorLogPlugin(logger: Logger): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ contextValue, errors, operationName }) {
          for (const error of errors) {
            const code = error.extensions?.code;
            const clientFault =
              code === 'GRAPHQL_PARSE_FAILED' ||
              code === 'GRAPHQL_VALIDATION_FAILED' ||
              code === 'BAD_USER_INPUT' ||
              code === 'BAD_REQUEST';
            logger[clientFault ? 'info' : 'error'](
              {
                correlationId: contextValue.correlationId,
                operationName,
                code,
                path: error.path,
                err: error.originalError ?? error,
                extensions: error.extensions,
              },
              error.message,
            );
          }
        },
      };
    },
  };
}
