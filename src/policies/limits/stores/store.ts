/**
 * Where rate budgets are kept: in this process (stores/memory.ts) or shared by every instance
 * (stores/redis.ts). The rate limiter asks one question per request, `take`, and a store answers
 * it atomically, so two instances (or two requests in one) never both spend the last unit.
 *
 * A budget is a sliding window kept as a log of what was admitted: `limit` units in any span of
 * `windowMs`. Fixed windows admit twice the limit around a boundary, and GCRA admits its burst
 * plus the refill within one window-long span; a log is exact at any boundary (docs/limits.md,
 * "Rate limits", says why this is the algorithm).
 *
 * A log of every admission would grow with the limit (a daily quota of a million requests, a
 * million entries per caller), so admissions are kept in slots of 1/`SLOTS_PER_WINDOW` of the
 * window, and a slot's units leave the window with its newest one. Counting a unit for up to a
 * slot longer than it was spent can only refuse early, never admit more: no window-long span ever
 * admits more than the limit, a unit comes back at most `windowMs / SLOTS_PER_WINDOW` late, and a
 * budget holds at most that many slots whatever its limit.
 */

/** Slots a window is kept in (see above). */
export const SLOTS_PER_WINDOW = 1000;

/** How long one slot of a `windowMs` window stays open to more admissions. */
export function slotMs(windowMs: number): number {
  return windowMs / SLOTS_PER_WINDOW;
}

/** At most `limit` units in any window-long span. */
export interface Budget {
  readonly limit: number;
  readonly windowMs: number;
}

/** What one request spends of one policy's budget. */
export interface Charge {
  /** The policy's name: with the identity, it names the budget. */
  readonly policy: string;
  /** Units to spend: 1 for a request, the estimated cost for cost points. */
  readonly cost: number;
  readonly budget: Budget;
}

/** A budget after a decision. */
export interface BudgetState {
  /** Units left in the window ending now, after this decision. */
  readonly remaining: number;
  /** Milliseconds until the budget is whole again (everything counted has left the window). */
  readonly resetMs: number;
}

export interface Decision {
  /** Every charge fitted and was recorded; when false, nothing was recorded. */
  readonly admitted: boolean;
  /** One per charge, in the order given. */
  readonly states: readonly BudgetState[];
  /**
   * Refused: milliseconds until every charge would fit, or `Infinity` when one never can (it
   * costs more than its whole budget). 0 when admitted.
   */
  readonly retryAfterMs: number;
}

export interface LimitStore {
  /** Names the store in logs and metrics (`memory`, `redis`). */
  readonly kind: string;
  /**
   * Spends every charge of `identity` or none: all fit in their budgets now, and then all are
   * recorded, or none is. Charges of cost 0 always fit and are not recorded.
   */
  take(identity: string, charges: readonly Charge[]): Promise<Decision>;
  /** Stops timers and connections. */
  close(): Promise<void>;
}
