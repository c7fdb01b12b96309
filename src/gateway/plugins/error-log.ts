import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import type { RequestContext } from '../../kernel/context.ts';
import { logLevelOf } from '../../kernel/errors.ts';

/**
 * Logs every error an operation produced, in full and with the correlation id, before
 * production masking rewrites what the client sees, at the level its code calls for
 * (kernel/errors.ts logLevelOf). The logged `err` is the deepest cause (a socket error, the
 * backend's body), and one failure is one line: a failed fetch is an error at every field it left
 * null (gateway/data-sources/fetch-errors.ts), all with the same cause, so the line lists their
 * `paths`.
 */
export function errorLogPlugin(logger: Logger): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ contextValue, errors, operationName }) {
          const failures = new Map<unknown, { error: GraphQLError; paths: unknown[] }>();
          for (const error of errors) {
            const cause = rootCause(error);
            const failure = failures.get(cause);
            if (failure) failure.paths.push(error.path);
            else failures.set(cause, { error, paths: [error.path] });
          }
          for (const [cause, { error, paths }] of failures) {
            const code = error.extensions?.code;
            const level = logLevelOf(typeof code === 'string' ? code : undefined);
            logger[level](
              {
                correlationId: contextValue.correlationId,
                operationName,
                code,
                path: error.path,
                ...(paths.length > 1 ? { paths } : {}),
                // A failure's stack says where to look; an expected answer's says nothing, and
                // formatting it (source maps) costs more than the rest of a fast refusal.
                ...(level === 'error' ? { err: cause } : {}),
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

/** The end of an error's `originalError` chain: Apollo Gateway and graphql-js wrap errors. */
function rootCause(error: GraphQLError): unknown {
  let cause: unknown = error;
  while (cause instanceof GraphQLError && cause.originalError) cause = cause.originalError;
  return cause;
}
