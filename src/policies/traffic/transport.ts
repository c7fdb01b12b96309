import * as grpc from '@grpc/grpc-js';
import {
  ErrorCode,
  type GatewayError,
  UpstreamError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '../../kernel/errors.ts';
import type { Dispatcher } from 'undici';
import type {
  ChainExchange,
  GrpcChannelPool,
  GrpcStreamExchange,
  GrpcUnaryExchange,
  HttpExchange,
} from './exchange.ts';

/**
 * The end of the chain: the one place a request leaves the process, over undici's keep-alive
 * pools or a grpc-js channel. Besides sending, it judges each exchange for outlier detection: did
 * the *backend* fail (unreachable, too slow on its own bound, a 5xx or its gRPC equivalents,
 * an answer that could not be used), or did it answer, if only to say no (a 4xx, NOT_FOUND,
 * ALREADY_EXISTS...)? A client error is an answer, and a deadline the gateway cut is the
 * gateway's.
 */

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

/**
 * gRPC statuses that are the backend's failure: those google/rpc/code.proto maps to a 5xx
 * (Envoy's outlier detection counts gRPC the same way). CANCELLED is the caller's choice, and
 * the rest are answers about the request.
 */
export const GRPC_BACKEND_FAILURES: ReadonlySet<number> = new Set([
  grpc.status.UNKNOWN,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.UNIMPLEMENTED,
  grpc.status.INTERNAL,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
]);

/** A 5xx is the backend's failure; any other status is an answer. */
export const httpStatusFailed = (status: number): boolean => status >= 500;

/** What a failed HTTP exchange means: timed out (we aborted), unreachable, or anything else. */
export function failureCode(error: unknown, aborted: boolean): ErrorCode {
  if (aborted) return ErrorCode.GATEWAY_TIMEOUT;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && UNAVAILABLE.has(code)
    ? ErrorCode.UPSTREAM_UNAVAILABLE
    : ErrorCode.UPSTREAM_ERROR;
}

/**
 * One HTTP exchange, from sending to the last byte `read` consumes, bounded by the exchange's
 * timeout. Network failures and the timeout become typed errors naming the backend (never the
 * URL); any status is handed to `read`, because what a 404 means differs between a GraphQL
 * subgraph, a REST resource and a proxied route.
 */
export async function sendHttp(dispatcher: Dispatcher, exchange: HttpExchange): Promise<unknown> {
  const { call } = exchange;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), exchange.timeoutMs);
  try {
    let answer: Dispatcher.ResponseData;
    try {
      answer = await dispatcher.request({
        origin: exchange.origin ?? call.origin,
        path: call.path,
        method: call.method,
        headers: exchange.headers,
        body: call.body,
        signal: controller.signal,
      });
    } catch (error) {
      throw transportError(exchange, failureCode(error, controller.signal.aborted), error);
    }
    exchange.status = answer.statusCode;
    exchange.backendFailed = httpStatusFailed(answer.statusCode);
    // A status `retry` takes another attempt for never reaches the call site: read and dropped.
    if (exchange.retryStatus?.(answer.statusCode)) {
      await answer.body.dump().catch(() => {});
      throw new UpstreamError(exchange.target.backend, `answered HTTP ${answer.statusCode}`, {
        status: answer.statusCode,
      });
    }
    try {
      return await exchange.read({
        status: answer.statusCode,
        headers: answer.headers,
        body: answer.body,
      });
    } catch (error) {
      if (controller.signal.aborted) {
        throw transportError(exchange, ErrorCode.GATEWAY_TIMEOUT, error);
      }
      // A 2xx the call site could not use (not JSON, not the expected shape) is garbage.
      if (answer.statusCode < 300) exchange.backendFailed = true;
      throw error;
    }
  } finally {
    clearTimeout(timer);
  }
}

function transportError(exchange: ChainExchange, code: ErrorCode, cause: unknown): GatewayError {
  const name = exchange.target.backend;
  switch (code) {
    case ErrorCode.GATEWAY_TIMEOUT:
      exchange.backendFailed = !exchange.budgetCut;
      return new UpstreamTimeoutError(name, exchange.timeoutMs, cause);
    case ErrorCode.UPSTREAM_UNAVAILABLE:
      exchange.backendFailed = true;
      return new UpstreamUnavailableError(name, cause);
    default:
      exchange.backendFailed = true;
      return new UpstreamError(name, 'failed', { cause });
  }
}

/** Text headers as gRPC metadata (binary `-bin` values are never set from strings). */
function metadataOf(headers: Readonly<Record<string, string>>): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [name, value] of Object.entries(headers))
    if (!name.endsWith('-bin')) metadata.set(name, value);
  return metadata;
}

/** Judges a failed gRPC call for outlier detection and hands the ServiceError back. */
function judged(exchange: ChainExchange, error: grpc.ServiceError): grpc.ServiceError {
  exchange.status = error.code;
  exchange.backendFailed =
    GRPC_BACKEND_FAILURES.has(error.code) &&
    !(error.code === grpc.status.DEADLINE_EXCEEDED && exchange.budgetCut);
  return error;
}

/** What grpc-js needs to start either kind of call: method, codecs, message, metadata, deadline. */
function callArgs(exchange: GrpcUnaryExchange | GrpcStreamExchange) {
  const { call } = exchange;
  return [
    call.path,
    call.serialize,
    call.deserialize,
    call.message,
    metadataOf(exchange.headers),
    { deadline: Date.now() + exchange.timeoutMs },
  ] as const;
}

/**
 * One unary call. It settles after the status arrives, so the trailers are there for `read`;
 * a failure rejects with grpc-js's ServiceError (code, details, metadata).
 */
export function sendGrpcUnary(
  channels: GrpcChannelPool,
  exchange: GrpcUnaryExchange,
): Promise<unknown> {
  const { call } = exchange;
  return new Promise((resolve, reject) => {
    let reply: Record<string, unknown> | undefined;
    let headers = new grpc.Metadata();
    const pending = channels
      .get(exchange.address ?? call.address, exchange.tls ?? call.tls)
      .makeUnaryRequest(...callArgs(exchange), (error, response) => {
        if (error) reject(judged(exchange, error));
        else reply = response as Record<string, unknown>;
      });
    pending.on('metadata', (md: grpc.Metadata) => (headers = md));
    pending.on('status', (status: grpc.StatusObject) => {
      if (status.code !== grpc.status.OK || !reply) return;
      exchange.status = grpc.status.OK;
      try {
        resolve(exchange.read({ message: reply, metadata: [headers, status.metadata] }));
      } catch (error) {
        // The reply does not map to what the call site needs: the backend answered garbage.
        exchange.backendFailed = true;
        reject(error as Error);
      }
    });
  });
}

/**
 * A server-streaming call: resolves at the end of the stream, or when a handler has had enough
 * (the rest is cancelled, which is no failure), or when `signal` aborts (the client left).
 */
export function sendGrpcStream(
  channels: GrpcChannelPool,
  exchange: GrpcStreamExchange,
): Promise<void> {
  const { call, handlers, signal } = exchange;
  return new Promise((resolve, reject) => {
    let stopped = false;
    const stream = channels
      .get(exchange.address ?? call.address, exchange.tls ?? call.tls)
      .makeServerStreamRequest(...callArgs(exchange));
    const stop = () => {
      if (stopped) return;
      stopped = true;
      stream.cancel();
      exchange.status = grpc.status.OK;
      resolve();
    };
    signal?.addEventListener('abort', stop, { once: true });
    stream.on('metadata', (md: grpc.Metadata) => handlers.onHeaders?.(md));
    stream.on('data', (message: Record<string, unknown>) => {
      if (stopped) return;
      let more: boolean | void;
      try {
        more = handlers.onMessage(message);
      } catch (error) {
        // A message the call site cannot use: the backend sent garbage.
        stopped = true;
        stream.cancel();
        exchange.backendFailed = true;
        reject(error as Error);
        return;
      }
      if (more === false) stop();
    });
    stream.on('error', (error: grpc.ServiceError) => {
      if (!stopped) reject(judged(exchange, error));
    });
    stream.on('end', () => {
      if (stopped) return;
      exchange.status = grpc.status.OK;
      resolve();
    });
  });
}
