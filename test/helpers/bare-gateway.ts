import type { GatewayConfig } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { createOfflineGateway } from '../../src/gateway/offline-gateway.ts';

/**
 * A bare Apollo Gateway with Apollo Server's defaults: the reference our gateway's federation
 * semantics are compared with, and the baseline of `npm run bench`. Constructed offline like ours
 * (its anonymous data collection would call cloud hosts; federation is the same without it).
 * `buildService` replaces Apollo's RemoteGraphQLDataSource (the bench's minimal fetcher).
 */
export async function startBareGateway(
  supergraphSdl: string,
  port = 0,
  buildService?: GatewayConfig['buildService'],
) {
  const server = new ApolloServer({
    gateway: createOfflineGateway({ supergraphSdl, ...(buildService ? { buildService } : {}) }),
    stopOnTerminationSignals: false,
  });
  const { url } = await startStandaloneServer(server, { listen: { port, host: '127.0.0.1' } });
  return { url, close: () => server.stop() };
}
