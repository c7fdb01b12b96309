import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestContext } from '../../kernel/context.ts';
import { unsupportedOperation } from '../operation-support.ts';

/**
 * Refuses, once Apollo Server has resolved the operation and before any stage or the gateway
 * sees it, a request whose operation cannot be run (gateway/operation-support.ts). Listed first
 * among the plugins: Apollo Server runs `didResolveOperation` hooks together and answers with
 * the first that fails.
 */
export function operationSupportPlugin(): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operation, request }) {
          const error = unsupportedOperation(document, request.operationName, operation);
          if (error) throw error;
        },
      };
    },
  };
}
