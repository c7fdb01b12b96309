import type { Identity, Store } from 'graphql-rate-limit';
import type { Budget, Decision, LimitStore } from './stores/store.ts';

/**
 * graphql-rate-limit's `Store`, answered by one of our stores' atomic `take`.
 *
 * The library asks a store for the timestamps of an identity's calls, counts them, and writes
 * the list back with the new call: a read then a write, which two instances (or two requests of
 * one, between the awaits) can interleave, both reading one unit left and both spending it.
 * Here the read is the decision: `getForIdentity` spends the call through `take`, all or
 * nothing, and answers the library with a window that makes it conclude the same thing (empty
 * when admitted, `max` calls when refused). `setForIdentity` records nothing: an admitted call
 * is recorded already and a refused one is never counted. So the library keeps what it is good
 * at (the directive's arguments, the field identity with `identityArgs`, the refusal message)
 * and the store alone decides, exactly as far as the store is exact (docs/limits.md, "Field
 * limits").
 *
 * One instance serves one field resolution: `decision` is how its caller learns when to retry,
 * which the library's interface has no room for.
 */
export class TakeStore implements Store {
  /** The store's answer, once the library has asked. */
  decision: Decision | undefined;
  readonly #store: LimitStore;
  readonly #policy: string;
  readonly #budget: Budget;

  /** `policy` prefixes the library's field identity to name the budget in the store. */
  constructor(store: LimitStore, policy: string, budget: Budget) {
    this.#store = store;
    this.#policy = policy;
    this.#budget = budget;
  }

  async getForIdentity(identity: Identity): Promise<readonly number[]> {
    this.decision = await this.#store.take(identity.contextIdentity, [
      { policy: `${this.#policy} ${identity.fieldIdentity}`, cost: 1, budget: this.#budget },
    ]);
    // The library refuses when the calls it is shown plus this one exceed `max`. A refused
    // call is shown a full window of calls that never leave it (the library drops timestamps
    // older than its window before counting).
    return this.decision.admitted
      ? []
      : new Array<number>(this.#budget.limit).fill(Number.MAX_SAFE_INTEGER);
  }

  setForIdentity(): void {}
}
