import { performance } from 'node:perf_hooks';
import { UpstreamTimeoutError } from '../../kernel/errors.ts';
import type { ChainExchange, Interceptor } from './exchange.ts';

/**
 * Every call gets at most what is left of its request's budget (`server.request_timeout`), so
 * fan-out and retries never outlive the client. When the request's budget is the shorter
 * bound, running out of it is the gateway's cut, not the backend's failure: the exchange says
 * so, and outlier detection does not count it. With nothing left, no call is made.
 */
export const deadline: Interceptor = (next) => (exchange) => {
  if (!narrowToBudget(exchange))
    return Promise.reject(new UpstreamTimeoutError(exchange.target.backend, 0));
  return next(exchange);
};

/**
 * Bounds one attempt by the backend's own timeout and what is left of the request's budget;
 * false when nothing is left. `retry` runs it again before each further attempt.
 */
export function narrowToBudget(exchange: ChainExchange): boolean {
  exchange.timeoutMs = exchange.call.timeoutMs;
  exchange.budgetCut = false;
  const ctx = exchange.ctx;
  if (!ctx) return exchange.timeoutMs > 0;
  const left = Math.floor(ctx.deadline - performance.now());
  if (left < exchange.timeoutMs) {
    exchange.timeoutMs = Math.max(0, left);
    exchange.budgetCut = true;
  }
  return exchange.timeoutMs > 0;
}
