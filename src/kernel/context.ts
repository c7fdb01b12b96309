import type { IncomingHttpHeaders } from 'node:http';

/**
 * What the gateway knows about one request, built when it arrives and handed to every stage,
 * to Apollo Server as `contextValue`, and to every data source. Stages write to it; nothing else
 * carries per-request state (policies that need more keep it in WeakMaps keyed by this object).
 */
export interface RequestContext {
  /** Correlation id: the client's when well-formed, else generated (see observability/correlation.ts). */
  correlationId: string;
  readonly method: string;
  /** The URL path, without the query string. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** `performance.now()` when the request arrived. */
  readonly startedAt: number;
  /** Headers stages add to the response, error responses included. */
  readonly responseHeaders: Map<string, string>;
  /**
   * Headers sent with every backend call of this request (correlation, identity, trace). Client
   * headers are never forwarded as such: a backend sees only what a stage chose to put here.
   */
  readonly upstreamHeaders: Record<string, string>;
}

export function createRequestContext(
  method: string,
  path: string,
  headers: IncomingHttpHeaders,
  startedAt: number,
): RequestContext {
  return {
    correlationId: '',
    method,
    path,
    headers,
    startedAt,
    responseHeaders: new Map(),
    upstreamHeaders: {},
  };
}
