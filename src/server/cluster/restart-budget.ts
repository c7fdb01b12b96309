/**
 * When a worker that served dies, the primary replaces it: after a delay that doubles with each
 * recent death (a crash that repeats at once must not spin the host), and only so many times in
 * a window. Past that the fault is not a passing one (a bad host, a backend that crashes every
 * worker it reaches): the primary stops and exits 1 so a supervisor or an operator sees it.
 */
export interface RestartBudgetOptions {
  /** Replacements allowed within `windowMs`; the next death stops the primary. */
  readonly maxRestarts: number;
  readonly windowMs: number;
  /** The first replacement's delay; each further recent death doubles it, up to `maxDelayMs`. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const RESTART_BUDGET: RestartBudgetOptions = {
  maxRestarts: 5,
  windowMs: 60_000,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
};

export class RestartBudget {
  readonly #options: RestartBudgetOptions;
  /** When each replacement within the window was granted (monotonic milliseconds). */
  #granted: number[] = [];

  constructor(options: RestartBudgetOptions = RESTART_BUDGET) {
    this.#options = options;
  }

  /**
   * A worker died at `now`: the delay before its replacement starts, or undefined when the
   * window's replacements are spent.
   */
  next(now: number): number | undefined {
    const { maxRestarts, windowMs, baseDelayMs, maxDelayMs } = this.#options;
    this.#granted = this.#granted.filter((at) => now - at < windowMs);
    if (this.#granted.length >= maxRestarts) return undefined;
    const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** this.#granted.length);
    this.#granted.push(now);
    return delay;
  }
}
