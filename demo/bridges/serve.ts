import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import type { RunningBackend } from '../backends/users-rest.ts';

export function readSchema(name: string): string {
  return readFileSync(join(import.meta.dirname, '../../schemas', name), 'utf8');
}

/**
 * Serves a hand-written bridge subgraph. `context` builds per-request state (batchers, the
 * correlation id to pass on) from the incoming headers.
 */
export async function serveSubgraph<C extends object>(options: {
  sdl: string;
  resolvers: Record<string, Record<string, unknown>>;
  context: (headers: Record<string, string | string[] | undefined>) => C;
  port?: number;
  host?: string;
}): Promise<RunningBackend> {
  const server = new ApolloServer<C>({
    // @apollo/subgraph does not export its resolver map type from the package root.
    schema: buildSubgraphSchema({
      typeDefs: parse(options.sdl),
      resolvers: options.resolvers as never,
    }),
    stopOnTerminationSignals: false,
    // Federated tracing (ftv1) is for Apollo's usage reporting, which the demo does not use.
    plugins: [ApolloServerPluginInlineTraceDisabled()],
  });
  const host = options.host ?? '127.0.0.1';
  const { url } = await startStandaloneServer(server, {
    listen: { port: options.port ?? 0, host },
    context: async ({ req }) => options.context(req.headers),
  });
  const port = Number(new URL(url).port);
  return { url: `http://${host}:${port}/graphql`, port, close: () => server.stop() };
}

/** The correlation id to pass on to the backend, when the gateway sent one. */
export function correlationOf(
  headers: Record<string, string | string[] | undefined>,
): string | undefined {
  const id = headers['x-correlation-id'];
  return typeof id === 'string' ? id : undefined;
}
