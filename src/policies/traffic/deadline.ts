import { performance } from 'node:perf_hooks';
import { UpstreamTimeoutError } from '../../kernel/errors.ts';
import type { Interceptor } from './chain.ts';

/**
 * Every call gets at most what is left of its request's budget (`server.request_timeout`), so
 * fan-out and, later, retries never outlive the client. When the request's budget is the
 * shorter bound, running out of it is the gateway's cut, not the backend's failure: the
 * exchange says so, and breakers do not count it. With nothing left, no call is made.
 */
export const deadline: Interceptor = (next) => (exchange) => {
  const ctx = exchange.ctx;
  if (!ctx) return next(exchange);
  const left = Math.floor(ctx.deadline - performance.now());
  if (left < exchange.timeoutMs) {
    exchange.timeoutMs = Math.max(0, left);
    exchange.budgetCut = true;
  }
  if (exchange.timeoutMs <= 0) {
    return Promise.reject(new UpstreamTimeoutError(exchange.target.backend, 0));
  }
  return next(exchange);
};
