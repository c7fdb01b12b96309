import { systemClock, type Clock } from '../../../kernel/clock.ts';
import { slotMs, type BudgetState, type Charge, type Decision, type LimitStore } from './store.ts';

/**
 * What one budget of one identity admitted in its window, in slots of 1/`SLOTS_PER_WINDOW` of
 * the window (store.ts says why a slot's units leave with its newest): for each slot, when it
 * opened, when it last admitted, and what it holds, in arrival order from `head` (slots before
 * it have left the window; the arrays are compacted now and then rather than shifted on every
 * request).
 */
class WindowLog {
  opened: number[] = [];
  newest: number[] = [];
  costs: number[] = [];
  head = 0;
  /** The costs from `head` on. */
  sum = 0;
  windowMs: number;

  constructor(windowMs: number) {
    this.windowMs = windowMs;
  }

  /** Drops the slots whose newest unit is no longer in the span (now - window, now]. */
  expire(now: number): void {
    const edge = now - this.windowMs;
    while (this.head < this.newest.length && this.newest[this.head]! <= edge) {
      this.sum -= this.costs[this.head]!;
      this.head++;
    }
    if (this.head > 64 && this.head * 2 > this.newest.length) {
      this.opened = this.opened.slice(this.head);
      this.newest = this.newest.slice(this.head);
      this.costs = this.costs.slice(this.head);
      this.head = 0;
    }
  }

  get empty(): boolean {
    return this.head === this.newest.length;
  }

  record(cost: number, now: number): void {
    const last = this.newest.length - 1;
    if (last >= this.head && now - this.opened[last]! < slotMs(this.windowMs)) {
      this.newest[last] = now;
      this.costs[last]! += cost;
    } else {
      this.opened.push(now);
      this.newest.push(now);
      this.costs.push(cost);
    }
    this.sum += cost;
  }

  /** Milliseconds until `cost` more fits under `limit`: until enough of the oldest leave. */
  waitFor(cost: number, limit: number, now: number): number {
    if (cost > limit) return Infinity;
    let left = this.sum;
    for (let i = this.head; i < this.newest.length; i++) {
      left -= this.costs[i]!;
      if (left + cost <= limit) return this.windowMs - (now - this.newest[i]!);
    }
    return 0;
  }

  // Times are subtracted before the window is added: `newest + window - now` on fractional
  // clock readings can exceed the window by a rounding error, a whole second once rounded up.
  state(limit: number, now: number): BudgetState {
    return {
      remaining: Math.max(0, limit - this.sum),
      resetMs: this.empty ? 0 : this.windowMs - (now - this.newest[this.newest.length - 1]!),
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
 * identity's log holds at most `SLOTS_PER_WINDOW` slots per budget (and at most `limit`, a slot
 * holding at least 1), and identities whose windows emptied are swept, so memory follows the
 * identities active in the last window, whatever the limits.
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
        if (cost > 0) logs[i]!.record(cost, now);
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

  /** Budgets with a log, for tests and the sweep's bound. */
  get size(): number {
    return this.#logs.size;
  }

  /** Slots held by every budget together, for tests of the memory bound. */
  get slots(): number {
    let slots = 0;
    for (const log of this.#logs.values()) slots += log.newest.length - log.head;
    return slots;
  }

  close(): Promise<void> {
    clearInterval(this.#sweep);
    this.#logs.clear();
    return Promise.resolve();
  }
}
