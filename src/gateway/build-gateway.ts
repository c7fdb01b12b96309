import type { ApolloGateway, GraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginSchemaReportingDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginUsageReportingDisabled } from '@apollo/server/plugin/disabled';
import type { Logger } from 'pino';
import { LimitsConfig, type ServerConfig } from '../config/schema.ts';
import { channels } from '../kernel/channels.ts';
import type { RequestContext } from '../kernel/context.ts';
import type { SnapshotManager } from '../runtime/snapshot-manager.ts';
import { authorize } from '../policies/auth/authorize.ts';
import { fetchThroughCache } from '../policies/cache/entity-cache.ts';
import { addFetchCost } from '../policies/limits/cost.ts';
import type { DocumentCache } from './apq-cache.ts';
import { withFieldAuthorization } from './authorized-gateway.ts';
import { LocalDataSource } from './data-sources/local-data-source.ts';
import { SubgraphDataSource } from './data-sources/subgraph-data-source.ts';
import { maskError } from './mask-errors.ts';
import { createOfflineGateway } from './offline-gateway.ts';
import { correlateErrorsPlugin } from './plugins/correlate-errors.ts';
import { costExtensionsPlugin } from './plugins/cost-extensions.ts';
import { errorLogPlugin } from './plugins/error-log.ts';
import { graphqlEventsPlugin } from './plugins/graphql-events.ts';
import { operationSupportPlugin } from './plugins/operation-support.ts';
import { parseLimitsPlugin } from './plugins/parse-limits.ts';
import { responseCachePlugin } from './plugins/response-cache.ts';
import { stagesPlugin } from './plugins/stages.ts';
import type { Pipeline } from './pipeline.ts';

export interface GraphQLEngine {
  readonly apollo: ApolloServer<RequestContext>;
  readonly gateway: ApolloGateway;
}

export interface BuildGraphQLOptions {
  manager: SnapshotManager;
  server: ServerConfig;
  logger: Logger;
  /** The pipeline; its `operation` stages run once the operation is resolved. */
  pipeline: Pipeline;
  /** Automatic persisted queries by hash (`server.apq_cache`, opened by app.ts): one cache for every engine. */
  apqCache: DocumentCache;
  /**
   * A fixed graph to serve (a client's contract, gateway/engines.ts); without it, the manager's
   * current supergraph, swapped on reload.
   */
  supergraphSdl?: string;
}

/**
 * Apollo Gateway fed by the supergraph manager, served by Apollo Server. Federation semantics
 * are Apollo Gateway's: its planner and plan cache plan every operation, and our executor
 * (execution/, wired in authorized-gateway.ts) runs the plan and shapes the answer as Apollo's
 * would, at a fraction of the cost. What we replace besides is the transport to subgraphs, the
 * error masking and the plugins.
 */
export function buildGraphQL(options: BuildGraphQLOptions): GraphQLEngine {
  const { manager, server, logger, pipeline, apqCache } = options;
  const development = server.mode === 'development';
  // The gateway's plan cache hands out the plan object it stored, so a plan seen before came
  // from the cache and a new object was just planned (the store itself is private).
  const plansSeen = new WeakSet<object>();
  const gateway = createOfflineGateway({
    supergraphSdl: options.supergraphSdl ?? manager.supergraphSdl,
    logger: logger.child({ component: 'apollo-gateway' }),
    experimental_didResolveQueryPlan: ({ queryPlan, requestContext }) => {
      const cached = plansSeen.has(queryPlan);
      if (!cached) plansSeen.add(queryPlan);
      if (channels.graphql.hasSubscribers) {
        const ctx = requestContext.context as RequestContext;
        channels.graphql.publish({ ctx, cache: 'query_plan', hit: cached });
        channels.graphql.publish({ ctx, phase: 'plan', outcome: 'ok' });
      }
    },
    buildService: ({ name, url }) => {
      const remote = new SubgraphDataSource({ name, url: url as string });
      const local = new LocalDataSource(name);
      // Decided per fetch from the request's snapshot, not here: a reload can turn a subgraph
      // into an adapter or back without the gateway creating a new data source (it keeps one
      // per unchanged URL).
      return {
        async process(request) {
          const operation = 'incomingRequestContext' in request;
          const send = (variables: Record<string, unknown> | undefined) => {
            const options =
              variables === request.request.variables
                ? request
                : { ...request, request: { ...request.request, variables } };
            return operation && request.context.snapshot.adapters.has(name)
              ? local.process(options)
              : remote.process(options);
          };
          // The entity cache answers what it holds and sends the rest (policies/cache).
          const response = operation
            ? await fetchThroughCache(request.context, name, request.request, (variables) =>
                send(variables as Record<string, unknown> | undefined),
              )
            : await send(request.request.variables);
          // Every fetch of an operation passes here with what it sent and got: the one place
          // its actual cost can be weighed fetch by fetch, as the estimate was.
          if (operation)
            addFetchCost(
              request.context,
              name,
              {
                query: request.request.query ?? '',
                operationName: request.request.operationName,
                ...(request.document ? { document: request.document } : {}),
              },
              request.request.variables,
              response.data,
            );
          return response;
        },
      } satisfies GraphQLDataSource<RequestContext>;
    },
  });
  // Read at each parse, so a reload's `limits.operation.max_tokens` applies to new documents.
  const parseOptions = {
    get maxTokens() {
      return (
        manager.current?.limits.operation.max_tokens ?? LimitsConfig.parse({}).operation.max_tokens
      );
    },
  };
  const apollo = new ApolloServer<RequestContext>({
    gateway: withFieldAuthorization(gateway, {
      enforced: pipeline.stages.some((stage) => stage.run === authorize),
    }),
    logger: logger.child({ component: 'apollo-server' }),
    // Introspection is refused per endpoint by the `introspection` stage, with Apollo Router's
    // code: Apollo Server's own rule would answer GRAPHQL_VALIDATION_FAILED, and the documents
    // it validates are cached across endpoints.
    introspection: true,
    parseOptions,
    // Always on here: whether a request may use APQ is decided per snapshot before Apollo Server
    // sees it (trusted-documents.ts), so `persisted_documents.apq` reloads.
    persistedQueries: { cache: apqCache },
    csrfPrevention: server.csrf_prevention,
    // main.ts owns signals: it drains HTTP first, then stops Apollo Server.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: development,
    // Apollo Server pretty-prints responses by default: a third more bytes to build, write and
    // send for every response, and clients parse them all the same.
    stringifyResult: (value) => JSON.stringify(value),
    // Production masks messages and takes graphql-js's "Did you mean" suggestions out of all.
    ...(development ? {} : { formatError: maskError }),
    // Our HTTP layer serves the landing page; Apollo's would load Sandbox from a CDN.
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginSchemaReportingDisabled(),
      parseLimitsPlugin(),
      operationSupportPlugin(),
      stagesPlugin(pipeline),
      responseCachePlugin(),
      costExtensionsPlugin(),
      errorLogPlugin(logger.child({ component: 'graphql' })),
      graphqlEventsPlugin(),
      ...(development ? [] : [correlateErrorsPlugin()]),
    ],
  });
  return { apollo, gateway };
}
