import type { Interceptor } from './exchange.ts';
import { CircuitOpenError } from './upstreams.ts';

/**
 * Passive outlier detection's interceptor (docs/traffic.md, "Outlier detection"), next to the
 * transport: an attempt to an instance that takes no calls (every instance of its backend is
 * ejected or unhealthy, so `balance` had no other) fails at once with UPSTREAM_CIRCUIT_OPEN;
 * every other attempt counts as load on its instance while in flight and is learnt from when it
 * ends. What counts as a failure is the transport's judgement (`exchange.backendFailed`): a 4xx
 * is an answer, and a deadline the gateway cut is not the backend's doing. Below
 * `limitConcurrency`, so a call refused for the gateway's own cap is never held against the
 * backend.
 */
export const detectOutliers: Interceptor = (next) => async (exchange) => {
  const { upstream, instance } = exchange;
  if (!upstream || !instance) return next(exchange);
  if (!upstream.available(instance))
    throw new CircuitOpenError(exchange.target.backend, upstream.backIn(instance));
  instance.inFlight++;
  upstream.inFlight++;
  try {
    const value = await next(exchange);
    upstream.settle(instance, exchange.backendFailed);
    return value;
  } catch (error) {
    upstream.settle(instance, exchange.backendFailed);
    throw error;
  } finally {
    instance.inFlight--;
    upstream.inFlight--;
  }
};
