import type { ApolloServerPlugin } from '@apollo/server';
import type { Logger } from 'pino';
import type { RequestContext } from '../../kernel/context.ts';
import { logLevelOf } from '../../kernel/errors.ts';

/**
 * Logs every error an operation produced, in full and with the correlation id, before
 * production masking rewrites what the client sees, at the level its code calls for
 * (kernel/errors.ts logLevelOf).
 */
export function errorLogPlugin(logger: Logger): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ contextValue, errors, operationName }) {
          for (const error of errors) {
            const code = error.extensions?.code;
            logger[logLevelOf(typeof code === 'string' ? code : undefined)](
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
