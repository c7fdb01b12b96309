// The demo products service: a native Federation 2 subgraph (@apollo/subgraph + @apollo/server).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import type { IncomingMessage } from 'node:http';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { GraphQLError, parse } from 'graphql';
import { PRODUCTS } from '../data.ts';
import {
  httpHeaders,
  ProofKeysUnavailableError,
  type GatewayVerifier,
} from '../gateway-verifier.ts';
import type { RunningBackend } from './users-rest.ts';

export const PRODUCTS_SDL = readFileSync(
  join(import.meta.dirname, '../../schemas/products.graphql'),
  'utf8',
);

const byId = (id: string) => PRODUCTS.find((p) => p.id === id) ?? null;

export async function startProductsSubgraph(
  options: {
    port?: number;
    host?: string;
    /** Called with every request (tests assert the headers the gateway sent). */
    onRequest?: (req: IncomingMessage) => void;
    /** Accept only calls carrying the gateway's proof (demo/gateway-verifier.ts): others get 401. */
    verifier?: GatewayVerifier;
  } = {},
): Promise<RunningBackend> {
  const server = new ApolloServer({
    schema: buildSubgraphSchema({
      typeDefs: parse(PRODUCTS_SDL),
      resolvers: {
        Query: {
          product: (_: unknown, { id }: { id: string }) => byId(id),
          products: (_: unknown, { ids }: { ids?: string[] | null }) =>
            ids ? ids.map(byId).filter((p) => p !== null) : PRODUCTS,
        },
        Product: { __resolveReference: (ref: { id: string }) => byId(ref.id) },
      },
    }),
    stopOnTerminationSignals: false,
    // Federated tracing (ftv1) is for Apollo's usage reporting, which the demo does not use.
    plugins: [ApolloServerPluginInlineTraceDisabled()],
  });
  const host = options.host ?? '127.0.0.1';
  const { url } = await startStandaloneServer(server, {
    listen: { port: options.port ?? 0, host },
    context: async ({ req }) => {
      options.onRequest?.(req);
      if (!options.verifier) return {};
      try {
        return { caller: await options.verifier.verify(httpHeaders(req.headers)) };
      } catch (error) {
        // Apollo Server answers a context error with the status in extensions.http.
        const unavailable = error instanceof ProofKeysUnavailableError;
        throw new GraphQLError(
          unavailable
            ? 'the gateway proof cannot be checked right now'
            : 'call this service through the gateway',
          {
            extensions: {
              code: unavailable ? 'SERVICE_UNAVAILABLE' : 'UNAUTHENTICATED',
              http: { status: unavailable ? 503 : 401 },
            },
          },
        );
      }
    },
  });
  const port = Number(new URL(url).port);
  return { url: `http://${host}:${port}/graphql`, port, close: () => server.stop() };
}
