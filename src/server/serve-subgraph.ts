import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { LocalDataSource } from '../gateway/data-sources/local-data-source.ts';
import { createScope } from '../kernel/context.ts';
import { createRequestContext } from '../kernel/context.ts';
import { ErrorCode, GatewayError, RequestError } from '../kernel/errors.ts';
import { correlate } from '../observability/correlation.ts';
import type { RuntimeSnapshot } from '../runtime/snapshot.ts';
import { lingerAfterAnswer } from './linger.ts';
import { readBody } from './read-body.ts';
import { sendGraphQLError, sendJson } from './respond.ts';

export interface ServedSubgraph {
  readonly server: Server;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * One adapter as a standalone federation subgraph over HTTP (`gateway serve-subgraph <name>`),
 * for teams that scale it apart from the gateway or serve it to another router. It executes
 * exactly as in-process: same schema, same calls, the correlation id passed on.
 */
export async function serveSubgraph(
  snapshot: RuntimeSnapshot,
  name: string,
  options: { port: number; host: string; path?: string; bodyLimit?: number },
): Promise<ServedSubgraph> {
  const path = options.path ?? '/graphql';
  const adapter = snapshot.adapters.get(name);
  if (!adapter) throw new Error(`"${name}" is not an adapter subgraph`);
  const local = new LocalDataSource(name);
  const scope = createScope();
  const server = createServer((req, res) => {
    const ctx = createRequestContext({
      scope,
      snapshot,
      surface: 'graphql',
      clientAddress: req.socket.remoteAddress ?? '',
      method: req.method ?? 'POST',
      path: req.url ?? '/',
      headers: req.headers,
      startedAt: performance.now(),
      timeoutMs: Number.POSITIVE_INFINITY,
      correlationHeader: 'x-correlation-id',
    });
    correlate(ctx);
    void (async () => {
      try {
        if ((req.url ?? '').split('?')[0] !== path)
          throw new GatewayError(ErrorCode.NOT_FOUND, `GraphQL is served at ${path}.`);
        if (req.method !== 'POST')
          throw new GatewayError(ErrorCode.METHOD_NOT_ALLOWED, 'Use POST.');
        if (!String(req.headers['content-type']).startsWith('application/json')) {
          throw new RequestError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            'POST requests must have content-type application/json.',
          );
        }
        let body: { query?: unknown; variables?: Record<string, unknown>; operationName?: string };
        try {
          body = JSON.parse((await readBody(req, options.bodyLimit ?? 1_048_576)).toString('utf8'));
        } catch (error) {
          if (error instanceof GatewayError) throw error;
          throw new RequestError(ErrorCode.BAD_REQUEST, 'The request body is not valid JSON.');
        }
        if (typeof body?.query !== 'string')
          throw new RequestError(ErrorCode.BAD_REQUEST, 'The body needs a "query" string.');
        const result = await local.execute(
          adapter.schema,
          { query: body.query, variables: body.variables, operationName: body.operationName },
          ctx,
        );
        res.setHeader('x-correlation-id', ctx.correlationId);
        sendJson(res, 200, result);
      } catch (error) {
        res.setHeader('x-correlation-id', ctx.correlationId);
        const gatewayError =
          error instanceof GatewayError
            ? error
            : new GatewayError(ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error.', {
                cause: error,
              });
        if (gatewayError.code === ErrorCode.PAYLOAD_TOO_LARGE) lingerAfterAnswer(req, res);
        sendGraphQLError(res, gatewayError, req.headers.accept, ctx.correlationId);
      }
    })();
  });
  server.listen(options.port, options.host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://${options.host}:${port}${path}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
