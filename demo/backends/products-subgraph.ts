// The demo products service: a native Federation 2 subgraph (@apollo/subgraph + @apollo/server).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import type { IncomingMessage } from 'node:http';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { PRODUCTS } from '../data.ts';
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
  } = {},
): Promise<RunningBackend> {
  const server = new ApolloServer({
    schema: buildSubgraphSchema({
      typeDefs: parse(PRODUCTS_SDL),
      resolvers: {
        Query: {
          product: (_: unknown, { id }: { id: string }) => byId(id),
          products: () => PRODUCTS,
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
      return {};
    },
  });
  const port = Number(new URL(url).port);
  return { url: `http://${host}:${port}/graphql`, port, close: () => server.stop() };
}
