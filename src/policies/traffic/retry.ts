import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { channels } from '../../kernel/channels.ts';
import { ErrorCode, GatewayError } from '../../kernel/errors.ts';
import { isServiceError } from '../../kernel/outbound.ts';
import { keyOf } from './balance.ts';
import { narrowToBudget } from './deadline.ts';
import type { ChainExchange, Interceptor } from './exchange.ts';
import type { Upstreams } from './upstream-registry.ts';

/**
 * Retries with a budget (docs/traffic.md, "Retries"), wrapping every attempt below it (the
 * balancer's choice, the published attempt, the caps, outlier detection, the transport).
 *
 * Calls their call site marks idempotent (a query's subgraph fetches, REST GET and HEAD, gRPC
 * methods that read) are retried on failures that say the backend did not act or cannot: a
 * refused or reset connection (UPSTREAM_UNAVAILABLE), HTTP 502, 503 or 504, gRPC UNAVAILABLE.
 * Not on a timeout: the time is spent, and the backend may still be working on it. Any other
 * HTTP call (a mutation's fetch, a write) is retried only when its connection could not be
 * made (refused, unreachable, timed out connecting): the request never left the gateway, so no backend can have acted on it (gRPC's transparent retry
 * rests on the same fact); a reset or a 503 may come after the backend acted, and is final. A
 * server-streaming call is never retried (its messages have already gone to the caller).
 *
 * Each retry goes to another instance where there is one (`balance` avoids the last), after a
 * backoff drawn at random below `base_backoff × 2^n` (full jitter, capped at `max_backoff`), and
 * only if what is left of the request's budget covers the wait. The retry budget (Envoy's)
 * caps retries in flight to a backend at `budget_percent` of its attempts in flight, or
 * `min_retry_concurrency`: when a backend fails as a whole, its retries stay a small share of
 * its traffic instead of multiplying it.
 */

/** HTTP statuses that mean the backend (or a proxy before it) did not serve the request. */
const RETRY_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);

/** An answer dropped for a retry; thrown only if the retry then cannot happen after all. */
class RetriedStatusError extends GatewayError {
  constructor(backend: string, status: number) {
    super(ErrorCode.UPSTREAM_ERROR, `"${backend}" answered HTTP ${status}.`, {
      subgraph: backend,
    });
  }
}

/** Why a failed attempt may be retried, or undefined when it may not. */
function retryReason(error: unknown, idempotent: boolean): string | undefined {
  if (!idempotent) return neverSent(error) ? 'connect_failed' : undefined;
  if (error instanceof RetriedStatusError) return 'status';
  if (error instanceof GatewayError && error.code === ErrorCode.UPSTREAM_UNAVAILABLE)
    return 'unavailable';
  if (isServiceError(error) && error.code === grpc.status.UNAVAILABLE) return 'unavailable';
  return undefined;
}

/**
 * Failures of connecting, before a byte of the request is written: refused, no route, a name
 * that does not resolve, the connect timeout. (A reset may come after the request left.)
 */
const CONNECT_FAILURES: ReadonlySet<unknown> = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The connection could not be made: the request was never written, whatever its method. */
function neverSent(error: unknown): boolean {
  return (
    error instanceof GatewayError &&
    error.code === ErrorCode.UPSTREAM_UNAVAILABLE &&
    CONNECT_FAILURES.has((error.originalError as { code?: unknown } | undefined)?.code)
  );
}

export function retry(upstreams: Upstreams): Interceptor {
  return (next) => async (exchange) => {
    const upstream = upstreams.of(keyOf(exchange));
    const rules = upstream?.spec.retries;
    if (
      !upstream ||
      !rules?.enabled ||
      rules.max_retries === 0 ||
      (exchange as { handlers?: unknown }).handlers !== undefined
    )
      return next(exchange);
    const idempotent = exchange.call.idempotent === true;
    // A gRPC failure does not tell a refused connection from one lost after the call left.
    if (!idempotent && exchange.target.protocol !== 'http') return next(exchange);
    /** Every attempt after the first holds a slot of the retry budget while it runs. */
    for (let attempt = 0; ; attempt++) {
      const holdsSlot = attempt > 0;
      const more = attempt < rules.max_retries;
      let dropped = 0;
      let refused = false;
      exchange.retryStatus =
        more && idempotent && exchange.target.protocol === 'http'
          ? (status) => {
              if (!RETRY_STATUSES.has(status)) return false;
              refused = !upstream.claimRetry();
              if (refused) return false;
              dropped = status;
              return true;
            }
          : undefined;
      let error: unknown;
      try {
        return await next(exchange);
      } catch (caught) {
        error = caught;
      } finally {
        if (holdsSlot) upstream.releaseRetry();
      }
      if (refused) publishRetry(exchange, 'retry_refused', 'status');
      if (dropped) error = new RetriedStatusError(exchange.target.backend, dropped);
      const reason = retryReason(error, idempotent);
      if (!more || reason === undefined) throw error;
      // A dropped status already holds its slot; any other failure asks for one now.
      if (!dropped && !upstream.claimRetry()) {
        publishRetry(exchange, 'retry_refused', reason);
        throw error;
      }
      const ceiling = Math.min(rules.max_backoff, rules.base_backoff * 2 ** attempt);
      const wait = Math.floor(Math.random() * ceiling);
      const ctx = exchange.ctx;
      if (ctx && ctx.deadline - performance.now() <= wait) {
        upstream.releaseRetry();
        throw error;
      }
      publishRetry(exchange, 'retry', reason);
      if (wait > 0) await sleep(wait);
      resetAttempt(exchange);
      if (!narrowToBudget(exchange)) {
        upstream.releaseRetry();
        throw error;
      }
    }
  };
}

/** A further attempt starts with a clean record; the balancer still knows the last instance. */
function resetAttempt(exchange: ChainExchange): void {
  exchange.status = undefined;
  exchange.outcome = 'ok';
  exchange.backendFailed = false;
  exchange.error = undefined;
}

function publishRetry(exchange: ChainExchange, type: 'retry' | 'retry_refused', reason: string) {
  if (channels.upstream.hasSubscribers)
    channels.upstream.publish({
      type,
      ctx: exchange.ctx,
      backend: exchange.target.backend,
      instance: exchange.target.address,
      reason,
    });
}
