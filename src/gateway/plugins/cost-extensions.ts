import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestContext } from '../../kernel/context.ts';

/**
 * Puts the operation's costs in `extensions.cost` of the response (`estimated`, `actual` once a
 * backend answered, `max`) when `limits.cost.expose` says so: by default when the client asks
 * with `"extensions": { "cost": true }` in its request, the GraphQL-over-HTTP place for what
 * a request asks of the server beside its operation, which GET and persisted queries carry too.
 * Off unless asked, because every byte of every response is paid by every client; the numbers
 * are no secret (a refusal states them).
 */
export function costExtensionsPlugin(): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue: ctx, request, response }) {
          if (response.body.kind !== 'single' || ctx.facts.cost === undefined) return;
          // The max is the one the request was held to: its client's when it has one.
          const { expose, max } = (ctx.client?.limits ?? ctx.snapshot.limits).cost;
          if (expose === 'never') return;
          if (expose === 'on_request' && request.extensions?.cost !== true) return;
          const result = response.body.singleResult;
          result.extensions = {
            ...result.extensions,
            cost: {
              estimated: ctx.facts.cost,
              ...(ctx.facts.actualCost === undefined ? {} : { actual: ctx.facts.actualCost }),
              max,
            },
          };
        },
      };
    },
  };
}
