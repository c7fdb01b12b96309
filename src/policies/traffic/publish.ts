import { channels } from '../../kernel/channels.ts';
import {
  CODE_OF_GRPC_STATUS,
  codeOfHttpStatus,
  ErrorCode,
  outcomeOf,
} from '../../kernel/errors.ts';
import { isServiceError } from '../../kernel/outbound.ts';
import type { ChainExchange, Interceptor } from './exchange.ts';

/**
 * Publishes each attempt on `gateway:call` (start, then asyncEnd or error), with its outcome
 * set before it ends: logs, metrics and spans subscribe (observability/telemetry.ts), and a
 * subscriber may add trace context to the outgoing headers at start. Without subscribers the
 * call goes straight on.
 */
export const publishAttempt: Interceptor = (next) => async (exchange) => {
  if (!channels.call.hasSubscribers) return next(exchange);
  // The tracing channel's events, published by hand: `tracePromise` would wrap every call in two
  // more promises and closures, on a path taken several times a request.
  const { start, error: failed, asyncEnd } = channels.call;
  start.publish(exchange);
  try {
    const value = await next(exchange);
    exchange.outcome = answeredOutcome(exchange);
    return value;
  } catch (error) {
    // A gRPC failure reaches the call site as grpc-js's error; its status names the outcome.
    exchange.outcome = isServiceError(error)
      ? (CODE_OF_GRPC_STATUS[error.code] ?? ErrorCode.UPSTREAM_ERROR)
      : outcomeOf(error);
    exchange.error = error;
    if (failed.hasSubscribers) failed.publish(exchange);
    throw error;
  } finally {
    asyncEnd.publish(exchange);
  }
};

/** A call that returned: `ok`, unless its HTTP answer, passed on as is (routes), was an error. */
function answeredOutcome(exchange: ChainExchange): string {
  const status = exchange.status;
  if (exchange.target.protocol !== 'http' || status === undefined || status < 400) return 'ok';
  return codeOfHttpStatus(status);
}
