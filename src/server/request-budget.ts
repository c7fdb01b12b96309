import { performance } from 'node:perf_hooks';
import type { RequestContext } from '../kernel/context.ts';
import { ErrorCode, type GatewayError, RequestTimeoutError } from '../kernel/errors.ts';

/**
 * The request's own timeout (`server.request_timeout`) on every surface, as Apollo Router's
 * router timeout answers it: 504 with GATEWAY_TIMEOUT, never a partial answer, a 500 or a hang.
 * The outbound chain's deadline interceptor cuts every backend call to what is left of the same
 * budget, so the calls in flight end with it; a surface waits no longer than the budget for its
 * work, and a backend timeout that comes as the budget runs out is the request's.
 */

/**
 * How early a call the budget cut may end before the deadline: the deadline interceptor rounds
 * what is left down to whole milliseconds, and timers count whole milliseconds from a rounded
 * start. A call's own timeout ending this close to the deadline is the request's timeout too.
 */
const TIMER_GRAIN_MS = 5;

/** Whether the request's budget is spent by now. */
export function budgetSpent(ctx: RequestContext): boolean {
  return performance.now() >= ctx.deadline - TIMER_GRAIN_MS;
}

/** The request's timeout: 504 GATEWAY_TIMEOUT, naming the budget it had. */
export function requestTimeout(ctx: RequestContext, cause?: unknown): RequestTimeoutError {
  return new RequestTimeoutError(Math.round(ctx.deadline - ctx.startedAt), cause);
}

/**
 * A backend's timeout that came as the request's budget ran out is the request's timeout: the
 * deadline interceptor had cut the call to what was left, so it was the request, not the
 * backend, that ran out of time. Any other error is returned as it is.
 */
export function asRequestTimeout(ctx: RequestContext, error: GatewayError): GatewayError {
  if (error instanceof RequestTimeoutError) return error;
  return error.code === ErrorCode.GATEWAY_TIMEOUT && budgetSpent(ctx)
    ? requestTimeout(ctx, error)
    : error;
}

/**
 * Whether an answer that is ready came as the budget ran out with backend timeouts in it: the
 * calls the deadline interceptor cut left their fields null, and such a partial answer is the
 * request's timeout (a GraphQL result: its error codes are in the request's facts).
 */
export function cutByBudget(ctx: RequestContext): boolean {
  return ctx.facts.errorCodes.has(ErrorCode.GATEWAY_TIMEOUT) && budgetSpent(ctx);
}

/**
 * Waits for `work` no longer than what is left of the request's budget, then rejects with the
 * request's timeout (Router's timeout layer around its router service). The work is not
 * stopped: its backend calls end at the same deadline, and its result is dropped. Work must not
 * write the answer itself: the caller writes it, or the timeout's, once this settles.
 */
export async function withinBudget<T>(ctx: RequestContext, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(requestTimeout(ctx)),
      Math.max(0, ctx.deadline - performance.now()),
    );
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
