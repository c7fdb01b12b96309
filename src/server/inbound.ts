import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { ServerConfig } from '../config/schema.ts';
import type { Pipeline } from '../gateway/pipeline.ts';
import { channels } from '../kernel/channels.ts';
import {
  createRequestContext,
  type AppScope,
  type HttpRequestLine,
  type RequestContext,
  type Surface,
} from '../kernel/context.ts';
import type { RuntimeSnapshot } from '../runtime/snapshot.ts';

export interface Arrival {
  readonly surface: Surface;
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The caller's address (server/client-address.ts). */
  readonly clientAddress: string;
  /** The request line and raw headers, on the HTTP port. */
  readonly http?: HttpRequestLine;
  /** The server span's name. */
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
}

export interface InboundOptions {
  scope: AppScope;
  pipeline: Pipeline;
  /** The snapshot current now; undefined before the first load. */
  current: () => RuntimeSnapshot | undefined;
  server: Pick<ServerConfig, 'request_timeout' | 'correlation_header'>;
}

/**
 * The one way in, for every surface (the HTTP server's GraphQL and REST paths, the gRPC port):
 * a request gets its context with the current snapshot pinned, is published as started, runs
 * the request stages, and is published as ended when its answer is written. What happens in
 * between is the surface's own (Apollo Server, a transcoded call, a route, a REST call).
 */
export class Inbound {
  readonly #options: InboundOptions;

  constructor(options: InboundOptions) {
    this.#options = options;
  }

  /** The context of a request that just arrived; undefined while no snapshot is loaded. */
  open(arrival: Arrival): RequestContext | undefined {
    const { scope, current, server } = this.#options;
    const snapshot = current();
    if (!snapshot) return undefined;
    const ctx = createRequestContext({
      scope,
      snapshot,
      surface: arrival.surface,
      method: arrival.method,
      path: arrival.path,
      headers: arrival.headers,
      clientAddress: arrival.clientAddress,
      ...(arrival.http ? { http: arrival.http } : {}),
      startedAt: performance.now(),
      timeoutMs: server.request_timeout,
      correlationHeader: server.correlation_header,
    });
    if (channels.requestStart.hasSubscribers)
      channels.requestStart.publish({ ctx, name: arrival.name, attributes: arrival.attributes });
    return ctx;
  }

  /** Runs the request stages; the first that throws ends the request with its error. */
  admit(ctx: RequestContext): Promise<void> {
    return this.#options.pipeline.run('request', ctx);
  }

  /** The answer is written (`status` HTTP or gRPC); `outcome` is `ok` or the first error code. */
  close(ctx: RequestContext, status: number, outcome: string): void {
    // What stages hold for the request's life goes back first (an admission slot): the next
    // request may take it while this one's end is published.
    for (const release of ctx.onEnd.splice(0)) release();
    if (channels.requestEnd.hasSubscribers) channels.requestEnd.publish({ ctx, status, outcome });
  }
}
