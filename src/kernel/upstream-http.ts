import type { Dispatcher } from 'undici';
import {
  ErrorCode,
  UpstreamError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from './errors.ts';

/**
 * Socket-level failures that mean "could not reach the backend" rather than "it answered badly".
 * https://undici.nodejs.org/#/docs/api/Errors
 */
const UNAVAILABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export interface UpstreamRequest {
  /** The subgraph the call serves, named in every error. */
  subgraph: string;
  dispatcher: Dispatcher;
  origin: string;
  path: string;
  method: Dispatcher.HttpMethod;
  headers: Record<string, string>;
  body?: string;
  /** Bound on the whole call, from sending to the last byte of the body. */
  timeoutMs: number;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * One HTTP call to a backend through a keep-alive pool. Network failures and the timeout become
 * typed errors naming the subgraph (never the URL); any HTTP status is returned for the caller to
 * judge, because what a 404 means differs between a GraphQL subgraph and a REST resource.
 */
export async function callUpstream(request: UpstreamRequest): Promise<UpstreamResponse> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), request.timeoutMs);
  try {
    const response = await request.dispatcher.request({
      origin: request.origin,
      path: request.path,
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal: controller.signal,
    });
    return {
      status: response.statusCode,
      headers: response.headers,
      text: await response.body.text(),
    };
  } catch (error) {
    switch (failureCode(error, controller.signal.aborted)) {
      case ErrorCode.UPSTREAM_TIMEOUT:
        throw new UpstreamTimeoutError(request.subgraph, request.timeoutMs, error);
      case ErrorCode.UPSTREAM_UNAVAILABLE:
        throw new UpstreamUnavailableError(request.subgraph, error);
      default:
        throw new UpstreamError(request.subgraph, 'failed', { cause: error });
    }
  } finally {
    clearTimeout(timer);
  }
}

/** What a failed HTTP exchange means: timed out (we aborted), unreachable, or anything else. */
export function failureCode(error: unknown, aborted: boolean): ErrorCode {
  if (aborted) return ErrorCode.UPSTREAM_TIMEOUT;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && UNAVAILABLE.has(code)
    ? ErrorCode.UPSTREAM_UNAVAILABLE
    : ErrorCode.UPSTREAM_ERROR;
}
