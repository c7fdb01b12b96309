import { ApolloGateway, type GraphQLDataSource } from '@apollo/gateway';
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
import { errorLogPlugin } from './plugins/error-log.ts';
import { telemetryPlugin } from './plugins/telemetry.ts';
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
}

/**
 * Apollo Gateway fed by the supergraph manager, served by Apollo Server. Federation semantics
 * (planning, execution, entity merging) are Apollo Gateway's unchanged; what we replace is the
 * transport to subgraphs, the error masking and the plugins.
 */
export function buildGraphQL(options: BuildGraphQLOptions): GraphQLEngine {
  const { manager, server, logger, dispatcher, telemetry } = options;
  const development = server.mode === 'development';
  const gateway = new ApolloGateway({
    supergraphSdl: manager.supergraphSdl,
    logger: logger.child({ component: 'apollo-gateway' }),
    experimental_didResolveQueryPlan: ({ requestContext }) =>
      telemetry.endPlanning(requestContext.context as RequestContext),
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
    // Validation's "Did you mean ...?" names fields a client may not know of (hidden ones,
    // a contract's filtered ones); production leaves the suggestions out.
    hideSchemaDetailsFromClientErrors: !development,
    // Apollo Server pretty-prints responses by default: a third more bytes to build, write and
    // send for every response, and clients parse them all the same.
    stringifyResult: (value) => JSON.stringify(value),
    ...(development ? {} : { formatError: maskError }),
    // Our HTTP layer serves the landing page; Apollo's would load Sandbox from a CDN.
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginSchemaReportingDisabled(),
      errorLogPlugin(logger.child({ component: 'graphql' })),
      telemetryPlugin(telemetry, { mask: !development }),
    ],
  });
  return { apollo, gateway };
}
