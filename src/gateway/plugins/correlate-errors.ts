import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestContext } from '../../kernel/context.ts';
import { isClientSafe } from '../../kernel/errors.ts';

/**
 * The last step of production masking: an error whose message was replaced (kernel/errors.ts
 * isClientSafe) gets the request's correlation id, the one thing a client can quote when
 * reporting it; the log has the full error under that id. Apollo Server's `formatError`, which
 * masks, is not told which request an error belongs to, so the id is added to the formatted
 * errors as the response is sent.
 */
export function correlateErrorsPlugin(): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, response }) {
          if (response.body.kind !== 'single') return;
          for (const error of response.body.singleResult.errors ?? []) {
            const extensions = error.extensions as Record<string, unknown> | undefined;
            if (extensions && !isClientSafe(String(extensions.code)))
              extensions.correlationId = contextValue.correlationId;
          }
        },
      };
    },
  };
}
