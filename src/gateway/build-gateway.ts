import type { ApolloGateway, GraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginSchemaReportingDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginUsageReportingDisabled } from '@apollo/server/plugin/disabled';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { ServerConfig } from '../config/schema.ts';
import type { RequestContext } from '../kernel/context.ts';
import type { AdapterSubgraph } from '../adapters/adapter.ts';
import { LocalDataSource } from './data-sources/local-data-source.ts';
import { SubgraphDataSource } from './data-sources/subgraph-data-source.ts';
import { maskError } from './mask-errors.ts';
import { createOfflineGateway } from './offline-gateway.ts';
import { correlateErrorsPlugin } from './plugins/correlate-errors.ts';
import { errorLogPlugin } from './plugins/error-log.ts';
import { operationSupportPlugin } from './plugins/operation-support.ts';
import { stagesPlugin } from './plugins/stages.ts';
import { telemetryPlugin } from './plugins/telemetry.ts';
import type { StageEntry } from './pipeline.ts';
import type { Telemetry } from '../observability/telemetry.ts';
import type { SupergraphManager } from './supergraph-manager.ts';

/** Used when a subgraph has no settings of its own (e.g. served from a supergraph file). */
const DEFAULT_SUBGRAPH_TIMEOUT_MS = 30_000;

export interface GraphQLEngine {
  readonly apollo: ApolloServer<RequestContext>;
  readonly gateway: ApolloGateway;
}

export interface BuildGraphQLOptions {
  manager: SupergraphManager;
  server: ServerConfig;
  logger: Logger;
  dispatcher: Dispatcher;
  telemetry: Telemetry;
  /** The pipeline; its `operation` stages run once the operation is resolved. */
  stages: readonly StageEntry[];
}

/**
 * Apollo Gateway fed by the supergraph manager, served by Apollo Server. Federation semantics
 * (planning, execution, entity merging) are Apollo Gateway's unchanged; what we replace is the
 * transport to subgraphs, the error masking and the plugins.
 */
export function buildGraphQL(options: BuildGraphQLOptions): GraphQLEngine {
  const { manager, server, logger, dispatcher, telemetry, stages } = options;
  const development = server.mode === 'development';
  // The gateway's plan cache hands out the plan object it stored, so a plan seen before came
  // from the cache and a new object was just planned (the store itself is private).
  const plansSeen = new WeakSet<object>();
  const gateway = createOfflineGateway({
    supergraphSdl: manager.supergraphSdl,
    logger: logger.child({ component: 'apollo-gateway' }),
    experimental_didResolveQueryPlan: ({ queryPlan, requestContext }) => {
      const cached = plansSeen.has(queryPlan);
      if (!cached) plansSeen.add(queryPlan);
      telemetry.endPlanning(requestContext.context as RequestContext, cached);
    },
    buildService: ({ name, url }) => {
      const remote = new SubgraphDataSource({
        name,
        url: url as string,
        dispatcher,
        timeoutMs: () => manager.current?.subgraphs[name]?.timeout ?? DEFAULT_SUBGRAPH_TIMEOUT_MS,
      });
      // Decided per fetch, not here: a reload can turn a subgraph into an adapter or back
      // without the gateway creating a new data source (it keeps one per unchanged URL).
      const adapter = () => manager.current?.adapters.get(name);
      const local = new LocalDataSource(() => (adapter() as AdapterSubgraph).schema);
      return {
        process: (request) => (adapter() ? local.process(request) : remote.process(request)),
      } satisfies GraphQLDataSource<RequestContext>;
    },
  });
  const apollo = new ApolloServer<RequestContext>({
    gateway,
    logger: logger.child({ component: 'apollo-server' }),
    introspection: server.introspection ?? development,
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
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginSchemaReportingDisabled(),
      operationSupportPlugin(),
      stagesPlugin(stages, () => manager.current),
      errorLogPlugin(logger.child({ component: 'graphql' })),
      telemetryPlugin(telemetry),
      ...(development ? [] : [correlateErrorsPlugin()]),
    ],
  });
  return { apollo, gateway };
}
