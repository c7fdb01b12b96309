import { HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import type { RequestContext } from '../../kernel/context.ts';
import { cachedResponse, storeResponse } from '../../policies/cache/response-cache.ts';
import { invalidate, mutationTags } from '../../policies/cache/invalidation.ts';

/**
 * Where the cache meets Apollo Server (the `cacheLookup` stage has looked up by then):
 * `responseForOperation` serves a hit in place of planning and execution; `willSendResponse`
 * hands every answer to the cache, which stores it when its policy allows and gives it its
 * `Cache-Control` (and on a hit `Age`), and a mutation's answer invalidates what its rules name
 * before the client sees it, so the client's next read is fresh. Apollo Server's own cache
 * control plugin is off (build-gateway.ts): with a gateway it sees no field resolve, and the
 * policy is this one's.
 */
export function responseCachePlugin(): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async responseForOperation({ contextValue: ctx }) {
          const cached = cachedResponse(ctx);
          if (!cached) return null;
          return {
            http: { status: undefined, headers: new HeaderMap() },
            body: {
              kind: 'single',
              singleResult: { data: cached.data as Record<string, unknown> },
            },
          };
        },
        async willSendResponse({ contextValue: ctx, response, operation }) {
          if (response.body.kind !== 'single' || !operation) return;
          const result = response.body.singleResult;
          if (operation.operation === 'mutation') {
            response.http.headers.set('cache-control', 'no-store');
            const cache = ctx.snapshot.cache;
            if (!cache.settings.enabled) return;
            // A store that cannot invalidate (Redis down) does not fail the mutation: it is
            // published (metrics, a log line) and the entries expire by their max-age.
            await invalidate(cache, ctx, mutationTags(cache, ctx, result), 'mutation').catch(
              () => {},
            );
            return;
          }
          const headers = await storeResponse(ctx, result).catch(() => ({
            // A cache that cannot store fails no answer: it goes out uncached.
            'cache-control': 'no-store',
          }));
          for (const [name, value] of Object.entries(headers))
            response.http.headers.set(name, value);
        },
      };
    },
  };
}
