import { ErrorCode, GatewayError } from '../../kernel/errors.ts';
import type { Interceptor } from './exchange.ts';
import type { GateLimits, Gates, Refusal } from './gate.ts';

/**
 * The chain's per-backend cap (`traffic.backends`, a subgraph's `traffic`): at most
 * `max_in_flight` attempts to one backend at a time, `max_queued` more waiting in order for at
 * most `queue_timeout` (and never past the call's deadline), the rest refused at once with
 * UPSTREAM_OVERLOADED. A slow backend then holds a bounded share of the gateway (sockets,
 * buffers, requests waiting on it) instead of every request that touches it: its fields fail
 * fast while the rest of the graph is served (Envoy's per-cluster `max_requests` and
 * `max_pending_requests`).
 *
 * It sits below `publishAttempt`, so a refused call is seen by logs, metrics and spans with its
 * outcome, as a call the breaker refuses is; and above `breaker`, so a refusal neither counts
 * against the backend nor takes the half-open trial.
 */

/** A call refused without being made: the gateway's cap on calls to its backend is reached. */
export class UpstreamOverloadedError extends GatewayError {
  constructor(backend: string, reason: Refusal) {
    super(
      ErrorCode.UPSTREAM_OVERLOADED,
      reason === 'queue_full'
        ? `Too many calls to "${backend}" are in flight; this one was not made.`
        : `No call to "${backend}" finished in time for this one to be made.`,
      { subgraph: backend },
    );
  }
}

export function limitConcurrency(
  gates: Gates,
  limitsOf: (backend: string) => GateLimits,
): Interceptor {
  return (next) => async (exchange) => {
    const { backend } = exchange.target;
    const gate = gates.backend(backend);
    const limits = limitsOf(backend);
    const entered = gate.enter(limits, Math.min(limits.queue_timeout, exchange.timeoutMs));
    if (entered === 'queue_full') {
      gates.onShed('backend', backend, entered);
      throw new UpstreamOverloadedError(backend, entered);
    }
    if (entered !== 'admitted') {
      const waitedFrom = performance.now();
      const outcome = await entered.admission;
      if (outcome !== 'admitted') {
        gates.onShed('backend', backend, outcome);
        throw new UpstreamOverloadedError(backend, outcome);
      }
      // The wait came out of the call's time: it must still end by the request's deadline.
      exchange.timeoutMs = Math.max(1, exchange.timeoutMs - (performance.now() - waitedFrom));
    }
    try {
      return await next(exchange);
    } finally {
      gate.release();
    }
  };
}
