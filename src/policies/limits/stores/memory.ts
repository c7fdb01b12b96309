import { systemClock, type Clock } from '../../../kernel/clock.ts';
import type { BudgetState, Charge, Decision, LimitStore } from './store.ts';

/**
 * What one budget of one identity admitted in its window: times and costs in arrival order,
 * read from `head` (entries before it have left the window; the arrays are compacted now and
 * then rather than shifted on every request).
 */
class WindowLog {
  times: number[] = [];
  costs: number[] = [];
  head = 0;
  /** The costs from `head` on. */
  sum = 0;
  windowMs: number;

  constructor(windowMs: number) {
    this.windowMs = windowMs;
  }

  /** Drops what is no longer in the span (now - window, now]. */
  expire(now: number): void {
    const edge = now - this.windowMs;
    while (this.head < this.times.length && this.times[this.head]! <= edge) {
      this.sum -= this.costs[this.head]!;
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.costs = this.costs.slice(this.head);
      this.head = 0;
    }
  }

  get empty(): boolean {
    return this.head === this.times.length;
  }

  /** Milliseconds until `cost` more fits under `limit`: until enough of the oldest leave. */
  waitFor(cost: number, limit: number, now: number): number {
    if (cost > limit) return Infinity;
    let left = this.sum;
    for (let i = this.head; i < this.times.length; i++) {
      left -= this.costs[i]!;
      if (left + cost <= limit) return this.times[i]! + this.windowMs - now;
    }
    return 0;
  }

  state(limit: number, now: number): BudgetState {
    const newest = this.times[this.times.length - 1];
    return {
      remaining: Math.max(0, limit - this.sum),
      resetMs: this.empty || newest === undefined ? 0 : newest + this.windowMs - now,
    };
  }
}

export interface MemoryLimitStoreOptions {
  clock?: Clock;
  /** How often identities with nothing left in their windows are forgotten. @default 10000 */
  sweepEveryMs?: number;
}

/**
 * Budgets in this process: exact for this instance, and the default (nothing to set up). Each
 * identity's log holds at most `limit` entries per budget (an entry costs at least 1), and
 * identities whose windows emptied are swept, so memory follows the identities active in the
 * last window.
 */
export class MemoryLimitStore implements LimitStore {
  readonly kind = 'memory';
  readonly #clock: Clock;
  readonly #logs = new Map<string, WindowLog>();
  readonly #sweep: NodeJS.Timeout;

  constructor(options: MemoryLimitStoreOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#sweep = setInterval(() => this.#forgetIdle(), options.sweepEveryMs ?? 10_000);
    this.#sweep.unref();
  }

  take(identity: string, charges: readonly Charge[]): Promise<Decision> {
    return Promise.resolve(this.decide(identity, charges));
  }

  /** `take`, synchronously: nothing else can run between the check and the record. */
  decide(identity: string, charges: readonly Charge[]): Decision {
    const now = this.#clock.now();
    const logs = charges.map((charge) => this.#log(`${charge.policy}\u0000${identity}`, charge));
    let retryAfterMs = 0;
    for (let i = 0; i < charges.length; i++) {
      const { cost, budget } = charges[i]!;
      const log = logs[i]!;
      if (cost > 0 && log.sum + cost > budget.limit)
        retryAfterMs = Math.max(retryAfterMs, log.waitFor(cost, budget.limit, now));
    }
    const admitted = retryAfterMs === 0;
    if (admitted) {
      for (let i = 0; i < charges.length; i++) {
        const { cost } = charges[i]!;
        if (cost <= 0) continue;
        logs[i]!.times.push(now);
        logs[i]!.costs.push(cost);
        logs[i]!.sum += cost;
      }
    }
    return {
      admitted,
      retryAfterMs,
      states: charges.map((charge, i) => logs[i]!.state(charge.budget.limit, now)),
    };
  }

  /** The log of one budget, expired to now; the window follows the policy if a reload changed it. */
  #log(key: string, charge: Charge): WindowLog {
    let log = this.#logs.get(key);
    if (!log) this.#logs.set(key, (log = new WindowLog(charge.budget.windowMs)));
    log.windowMs = charge.budget.windowMs;
    log.expire(this.#clock.now());
    return log;
  }

  #forgetIdle(): void {
    const now = this.#clock.now();
    for (const [key, log] of this.#logs) {
      log.expire(now);
      if (log.empty) this.#logs.delete(key);
    }
  }

  /** Identities with a log, for tests and the sweep's bound. */
  get size(): number {
    return this.#logs.size;
  }

  close(): Promise<void> {
    clearInterval(this.#sweep);
    this.#logs.clear();
    return Promise.resolve();
  }
}
