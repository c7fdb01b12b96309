import { ensureError } from './errors.ts';

/** What one attempt at a shared store gave: its answer, or why there is none. */
export type Attempt<T> =
  | { readonly ok: true; readonly value: T }
  /** `error` is absent when the store was skipped: down, and another call probing it. */
  | { readonly ok: false; readonly error?: unknown };

/**
 * Whether a store other instances share (Redis) is taken for up, and the rule for asking it:
 * while it is up every call asks; once a call fails (refused, timed out, connection lost) it is
 * down, and one call at a time probes it while the others are skipped, so a store that hangs
 * costs one request its timeout, not every request. The first probe that succeeds brings it
 * back. The limit store (policies/limits/stores/fallback.ts) and the APQ store
 * (gateway/apq-cache.ts) both decide this way.
 */
export class Availability {
  readonly #onChange: (up: boolean, reason?: string) => void;
  #up = true;
  #probing = false;

  /** `onChange` hears each transition (not the initial state: see `assume`). */
  constructor(onChange: (up: boolean, reason?: string) => void) {
    this.#onChange = onChange;
  }

  get up(): boolean {
    return this.#up;
  }

  /** Sets the state without a transition: what the start found. */
  assume(up: boolean): void {
    this.#up = up;
  }

  /** Runs `command` unless the store is down and being probed; never rejects. */
  async attempt<T>(command: () => Promise<T>): Promise<Attempt<T>> {
    if (!this.#up && this.#probing) return { ok: false };
    const probe = !this.#up;
    if (probe) this.#probing = true;
    try {
      const value = await command();
      if (!this.#up) this.#change(true);
      return { ok: true, value };
    } catch (error) {
      if (this.#up) this.#change(false, ensureError(error).message);
      return { ok: false, error };
    } finally {
      if (probe) this.#probing = false;
    }
  }

  #change(up: boolean, reason?: string): void {
    this.#up = up;
    this.#onChange(up, reason);
  }
}

/** A transition as the shared stores (APQ, cache) publish it. */
export interface StoreTransition {
  readonly type: 'up' | 'down';
  readonly initial: false;
  readonly reason?: string;
}

/** An Availability that reports each transition as a store signal. */
export function availabilityReporting(signal: (transition: StoreTransition) => void): Availability {
  return new Availability((up, reason) =>
    signal({
      type: up ? 'up' : 'down',
      initial: false,
      ...(reason === undefined ? {} : { reason }),
    }),
  );
}
