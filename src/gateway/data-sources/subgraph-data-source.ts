import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { noteCacheControl } from '../../kernel/cache-control.ts';
import type { RequestContext } from '../../kernel/context.ts';
import { ErrorCode, GatewayError, UpstreamError } from '../../kernel/errors.ts';
import { fetchErrors } from './fetch-errors.ts';

export interface SubgraphDataSourceOptions {
  name: string;
  url: string;
}

/** Used when a subgraph has no settings of its own (e.g. served from a supergraph file). */
const DEFAULT_SUBGRAPH_TIMEOUT_MS = 30_000;

/** Upstream statuses that keep their meaning for the client; every other non-2xx is UPSTREAM_ERROR. */
const STATUS_CODES: Readonly<Record<number, ErrorCode>> = {
  401: ErrorCode.UNAUTHENTICATED,
  403: ErrorCode.FORBIDDEN,
};

const REQUEST_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/graphql-response+json, application/json;q=0.9',
} as const;

/**
 * Sends subgraph fetches through the request's outbound chain (undici's pooled `request()` at
 * its end) instead of the gateway's default fetcher: no WHATWG Request/Response objects, no
 * per-call Headers copies. It keeps RemoteGraphQLDataSource's observable behaviour (the JSON
 * request body, cache-control hints, noted for the cache), and replaces its errors with typed ones that never carry
 * the URL or the response body, answered as GraphQL errors at the paths of the fields the failed
 * fetch leaves null. Timeout and header rules come from the request's snapshot, so a reload that
 * changes them applies without a new data source.
 */
export class SubgraphDataSource implements GraphQLDataSource<RequestContext> {
  readonly name: string;
  readonly url: string;
  readonly #origin: string;
  readonly #host: string;
  readonly #path: string;

  constructor(options: SubgraphDataSourceOptions) {
    const url = new URL(options.url);
    this.name = options.name;
    this.url = options.url;
    this.#origin = url.origin;
    this.#host = url.host;
    this.#path = `${url.pathname}${url.search}`;
  }

  async process(
    options: GraphQLDataSourceProcessOptions<RequestContext>,
  ): Promise<GatewayGraphQLResponse> {
    // Only operations carry a request context; the gateway's own health checks and schema
    // loads, which this gateway does not make, would not. (The request-kind enum is not
    // exported by @apollo/gateway, so test for the field itself.)
    if (!('incomingRequestContext' in options))
      throw new Error(`internal: a fetch to ${this.name} outside a request`);
    const { request, context: ctx } = options;
    const own: Record<string, string> = { ...REQUEST_HEADERS };
    // The gateway itself may ask for headers (e.g. ftv1 traces); keep them like Apollo does.
    if (request.http?.headers) for (const [k, v] of request.http.headers) own[k] = v;
    const body = JSON.stringify({
      query: request.query,
      variables: request.variables,
      operationName: request.operationName,
      extensions: request.extensions,
    });
    const { snapshot } = ctx;
    const fetched = snapshot.outbound.http(
      {
        target: {
          backend: this.name,
          kind: 'subgraph',
          operation: request.operationName ?? 'fetch',
          protocol: 'http',
          address: this.#host,
          method: 'POST',
        },
        ctx,
        timeoutMs: snapshot.subgraphs[this.name]?.timeout ?? DEFAULT_SUBGRAPH_TIMEOUT_MS,
        headers: snapshot.subgraphHeaders.get(this.name),
        ownHeaders: own,
        // A query's fetches only read: identical ones in flight may share one call (dedup).
        // A mutation's never do, not even its entity fetches after the write.
        idempotent: options.incomingRequestContext.operation?.operation === 'query',
        origin: this.#origin,
        path: this.#path,
        method: 'POST',
        body,
      },
      async (response) => {
        const text = await response.body.text();
        noteCacheControl(ctx, this.name, response.headers['cache-control']);
        return this.#parse(response.status, response.headers['content-type'], text);
      },
    );
    // A failed fetch answers with errors at the paths it leaves null (fetch-errors.ts); the
    // chain has seen the failure by then, so outlier detection and observers count it.
    return fetched.catch((error: unknown) => {
      if (!(error instanceof GatewayError)) throw error;
      return { errors: fetchErrors(request, error) };
    });
  }

  #parse(
    status: number,
    contentType: string | string[] | undefined,
    text: string,
  ): GatewayGraphQLResponse {
    if (status < 200 || status > 299) {
      throw new UpstreamError(this.name, `answered HTTP ${status}`, {
        status,
        code: STATUS_CODES[status],
        cause: new Error(`HTTP ${status}: ${text.slice(0, 2048)}`),
      });
    }
    const type = String(contentType ?? '');
    if (
      !type.startsWith('application/json') &&
      !type.startsWith('application/graphql-response+json')
    ) {
      throw new UpstreamError(
        this.name,
        `answered with ${type ? `content type ${type.split(';')[0]}` : 'no content type'} instead of JSON`,
        {
          status,
          cause: new Error(`Body: ${text.slice(0, 2048)}`),
        },
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new UpstreamError(this.name, 'answered with malformed JSON', { status, cause: error });
    }
    if (!isGraphQLResponse(parsed)) {
      throw new UpstreamError(this.name, 'answered with JSON that is not a GraphQL response', {
        status,
        cause: new Error(`Body: ${text.slice(0, 2048)}`),
      });
    }
    return parsed;
  }
}

function isGraphQLResponse(value: unknown): value is GatewayGraphQLResponse {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { data, errors } = value as { data?: unknown; errors?: unknown };
  if (data === undefined && errors === undefined) return false;
  return (
    (data === undefined || data === null || typeof data === 'object') &&
    (errors === undefined || Array.isArray(errors))
  );
}
