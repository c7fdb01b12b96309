import { Availability } from '../../../kernel/availability.ts';
import type { LimitStoreSignal } from '../../../kernel/channels.ts';
import { ErrorCode, GatewayError } from '../../../kernel/errors.ts';
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
 * probes the shared store (kernel/availability.ts), so a Redis that hangs costs one request its
 * timeout, not every request. The first probe that succeeds brings it back: the client
 * reconnects by itself (runtime/redis.ts), so shared decisions resume within its retry delay,
 * without a restart.
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
  readonly #availability: Availability;

  constructor(options: FallbackLimitStoreOptions) {
    this.#shared = options.shared;
    this.#local = options.local;
    this.#mode = options.mode;
    this.#signal = options.onSignal ?? (() => {});
    this.kind = options.shared.kind;
    this.#availability = new Availability((up, reason) =>
      this.#signal({
        type: up ? 'up' : 'down',
        store: this.kind,
        initial: false,
        fallback: this.#mode,
        ...(reason === undefined ? {} : { reason }),
      }),
    );
  }

  /** Waits for the first connection (bounded) and reports the state the gateway starts in. */
  async start(connectTimeoutMs: number): Promise<void> {
    const up = await this.#shared.ready(connectTimeoutMs);
    this.#availability.assume(up);
    this.#signal({
      type: up ? 'up' : 'down',
      store: this.kind,
      initial: true,
      fallback: this.#mode,
      ...(up ? {} : { reason: 'not connected within connect_timeout' }),
    });
  }

  /** True while the shared store decides. */
  get up(): boolean {
    return this.#availability.up;
  }

  async take(identity: string, charges: readonly Charge[]): Promise<Decision> {
    const shared = await this.#availability.attempt(() => this.#shared.take(identity, charges));
    return shared.ok ? shared.value : this.#fallback(identity, charges, shared.error);
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
