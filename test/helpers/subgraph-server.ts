import { createServer, type IncomingMessage } from 'node:http';
import { EventEmitter, once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { LocalDataSource } from '../../src/gateway/data-sources/local-data-source.ts';

export interface SubgraphServer {
  readonly name: string;
  readonly url: string;
  readonly sdl: string;
  /** Requests received, in order: what the gateway sent. */
  readonly received: { headers: IncomingMessage['headers']; query: string }[];
  /** Emits `request` as each request arrives, before any delay: lets tests await "in flight". */
  readonly events: EventEmitter<{ request: [] }>;
  close(): Promise<void>;
}

export interface SubgraphServerOptions {
  name: string;
  sdl: string;
  /** Resolvers by type and field, with `__resolveReference` for entities. */
  resolvers: Record<string, Record<string, unknown>>;
  /** Delay before each answer, to hold a request in flight. */
  delayMs?: number;
  /** Headers of each answer (a `Cache-Control`), by the query it answers. @default none */
  answerHeaders?: (query: string) => Record<string, string>;
  port?: number;
}

/**
 * A real federation subgraph over node:http: @apollo/subgraph's schema executed by graphql-js,
 * with parsed documents cached by query text (a gateway sends the same few queries again and
 * again), so that tests and the bench measure the gateway rather than the subgraph.
 */
export async function startSubgraphServer(options: SubgraphServerOptions): Promise<SubgraphServer> {
  const schema = buildSubgraphSchema({
    typeDefs: parse(options.sdl),
    // @apollo/subgraph does not export its resolver map type from the package root.
    resolvers: options.resolvers as never,
  });
  // The gateway's own in-process executor: parsed and validated documents cached per query.
  const executor = new LocalDataSource('test subgraph');
  const received: SubgraphServer['received'] = [];
  const events = new EventEmitter<{ request: [] }>();
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: { query?: string; variables?: Record<string, unknown>; operationName?: string };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end('{"errors":[{"message":"bad json"}]}');
      return;
    }
    const query = body.query ?? '';
    received.push({ headers: req.headers, query });
    events.emit('request');
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    const result = await executor.execute(
      schema,
      { query, variables: body.variables, operationName: body.operationName },
      // Resolvers read the request's headers (the identity the gateway sends) from the context.
      { headers: req.headers } as never,
    );
    const payload = JSON.stringify(result);
    res.writeHead(200, {
      ...options.answerHeaders?.(query),
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(payload),
    });
    res.end(payload);
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    name: options.name,
    url: `http://127.0.0.1:${port}/graphql`,
    sdl: options.sdl,
    received,
    events,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
