import type { LimitStoreSignal } from '../../../kernel/channels.ts';
import { ErrorCode, GatewayError, ensureError } from '../../../kernel/errors.ts';
import type { Charge, Decision, LimitStore } from './store.ts';

/** What decides while the shared store does not answer (`limits.store.on_unavailable`). */
export type UnavailableMode = 'local' | 'allow' | 'refuse';

/** A store other instances share (Redis): it can be away, and says when it is connected. */
export interface SharedLimitStore extends LimitStore {
  /** Resolves true once connected, false if not within `timeoutMs`; never rejects. */
  ready(timeoutMs: number): Promise<boolean>;
}

export interface FallbackLimitStoreOptions {
  shared: SharedLimitStore;
  mode: UnavailableMode;
  /** Decides in `local` mode: budgets of this instance alone while the shared store is away. */
  local: LimitStore;
  /** Transitions and fallback decisions; app.ts publishes them on `gateway:limit-store`. */
  onSignal?: (signal: LimitStoreSignal) => void;
}

/** The shared store did not answer and `on_unavailable: refuse` says not to guess. */
export class RateLimitUnavailableError extends GatewayError {
  constructor(cause: unknown) {
    super(ErrorCode.RATE_LIMIT_UNAVAILABLE, 'The rate limiter is unavailable; retry shortly.', {
      cause,
      requestLevel: true,
    });
  }
}

/**
 * The shared store, and what decides when it cannot: a request never waits on Redis longer than
 * its command timeout, and never fails with a 500 because Redis is away.
 *
 * Every decision asks the shared store while it is up. Once a command fails (refused, timed out,
 * connection lost) it is down: decisions go to the fallback at once, and one decision at a time
 * probes the shared store, so a Redis that hangs costs one request its timeout, not every
 * request. The first probe that succeeds brings it back: the client reconnects by itself
 * (runtime/redis.ts), so shared decisions resume within its retry delay, without a restart.
 *
 * A command that timed out may still run on Redis later and spend that budget: an outage can
 * only make the shared budget stricter, never looser.
 */
export class FallbackLimitStore implements LimitStore {
  readonly kind: string;
  readonly #shared: SharedLimitStore;
  readonly #local: LimitStore;
  readonly #mode: UnavailableMode;
  readonly #signal: (signal: LimitStoreSignal) => void;
  #up = true;
  #probing = false;

  constructor(options: FallbackLimitStoreOptions) {
    this.#shared = options.shared;
    this.#local = options.local;
    this.#mode = options.mode;
    this.#signal = options.onSignal ?? (() => {});
    this.kind = options.shared.kind;
  }

  /** Waits for the first connection (bounded) and reports the state the gateway starts in. */
  async start(connectTimeoutMs: number): Promise<void> {
    this.#up = await this.#shared.ready(connectTimeoutMs);
    this.#signal({
      type: this.#up ? 'up' : 'down',
      store: this.kind,
      initial: true,
      fallback: this.#mode,
      ...(this.#up ? {} : { reason: 'not connected within connect_timeout' }),
    });
  }

  /** True while the shared store decides. */
  get up(): boolean {
    return this.#up;
  }

  async take(identity: string, charges: readonly Charge[]): Promise<Decision> {
    if (!this.#up && this.#probing) return this.#fallback(identity, charges, undefined);
    const probe = !this.#up;
    if (probe) this.#probing = true;
    try {
      const decision = await this.#shared.take(identity, charges);
      if (!this.#up) this.#change(true);
      return decision;
    } catch (error) {
      if (this.#up) this.#change(false, ensureError(error).message);
      return this.#fallback(identity, charges, error);
    } finally {
      if (probe) this.#probing = false;
    }
  }

  #change(up: boolean, reason?: string): void {
    this.#up = up;
    this.#signal({
      type: up ? 'up' : 'down',
      store: this.kind,
      initial: false,
      fallback: this.#mode,
      ...(reason === undefined ? {} : { reason }),
    });
  }

  #fallback(identity: string, charges: readonly Charge[], cause: unknown): Promise<Decision> {
    this.#signal({ type: 'fallback', store: this.kind });
    switch (this.#mode) {
      case 'local':
        return this.#local.take(identity, charges);
      case 'allow':
        // Nothing is counted, so the budget is reported whole: the headers tell no lie about
        // a spend the gateway does not know.
        return Promise.resolve({
          admitted: true,
          retryAfterMs: 0,
          states: charges.map(({ budget }) => ({ remaining: budget.limit, resetMs: 0 })),
        });
      case 'refuse':
        return Promise.reject(
          new RateLimitUnavailableError(cause ?? new Error('limit store unavailable')),
        );
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.#shared.close(), this.#local.close()]);
  }
}
