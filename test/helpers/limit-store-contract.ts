import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Budget, Charge, LimitStore } from '../../src/policies/limits/stores/store.ts';

/**
 * What every limit store must do, as tests any store runs: `open` gives a fresh store (empty
 * budgets; a unique identity prefix where the store is shared) and a way to let time pass (a
 * fake clock in memory, real waiting against Redis, whose clock decides there).
 */
export interface StoreUnderTest {
  store: LimitStore;
  /** Lets `ms` pass for the store's clock. */
  advance(ms: number): Promise<void>;
  /** Prepended to identities, so runs against a shared server never meet. */
  identity(name: string): string;
  close(): Promise<void>;
}

/** Short enough that real waiting stays cheap, long enough that scheduling noise stays inside. */
const WINDOW = 600;

const requests = (limit: number, windowMs = WINDOW): Charge => ({
  policy: 'requests',
  cost: 1,
  budget: { limit, windowMs },
});
const points = (cost: number, limit: number, windowMs = WINDOW): Charge => ({
  policy: 'points',
  cost,
  budget: { limit, windowMs } satisfies Budget,
});

export function limitStoreContract(open: () => Promise<StoreUnderTest>): void {
  test('admits exactly the limit, then refuses with the wait until a unit leaves', async () => {
    const t = await open();
    try {
      const id = t.identity('exact');
      const decisions = await Promise.all(
        Array.from({ length: 10 }, () => t.store.take(id, [requests(4)])),
      );
      assert.equal(decisions.filter((d) => d.admitted).length, 4);
      const refused = decisions.find((d) => !d.admitted)!;
      assert.equal(refused.states[0]!.remaining, 0);
      assert.ok(
        refused.retryAfterMs > 0 && refused.retryAfterMs <= WINDOW,
        `${refused.retryAfterMs}`,
      );
      const first = decisions[0]!;
      assert.equal(first.retryAfterMs, 0);
      assert.ok(first.states[0]!.resetMs > 0 && first.states[0]!.resetMs <= WINDOW);
    } finally {
      await t.close();
    }
  });

  test('identities and policies have budgets of their own', async () => {
    const t = await open();
    try {
      const a = t.identity('a');
      const b = t.identity('b');
      assert.equal((await t.store.take(a, [requests(1)])).admitted, true);
      assert.equal((await t.store.take(a, [requests(1)])).admitted, false);
      assert.equal((await t.store.take(b, [requests(1)])).admitted, true);
      assert.equal((await t.store.take(a, [points(1, 1)])).admitted, true);
    } finally {
      await t.close();
    }
  });

  test('several charges are all spent or none is', async () => {
    const t = await open();
    try {
      const id = t.identity('all-or-none');
      const ok = await t.store.take(id, [requests(5), points(6, 10)]);
      assert.equal(ok.admitted, true);
      assert.deepEqual(
        ok.states.map((s) => s.remaining),
        [4, 4],
      );
      // Points do not fit: the request unit is not spent either.
      const refused = await t.store.take(id, [requests(5), points(6, 10)]);
      assert.equal(refused.admitted, false);
      assert.deepEqual(
        refused.states.map((s) => s.remaining),
        [4, 4],
      );
      const small = await t.store.take(id, [requests(5), points(4, 10)]);
      assert.equal(small.admitted, true);
      assert.deepEqual(
        small.states.map((s) => s.remaining),
        [3, 0],
      );
    } finally {
      await t.close();
    }
  });

  test('cost 0 always fits and is not recorded; a cost over the whole budget never fits', async () => {
    const t = await open();
    try {
      const id = t.identity('edges');
      assert.equal((await t.store.take(id, [points(10, 10)])).admitted, true);
      const free = await t.store.take(id, [points(0, 10)]);
      assert.equal(free.admitted, true);
      assert.equal(free.states[0]!.remaining, 0);
      const huge = await t.store.take(t.identity('huge'), [points(11, 10)]);
      assert.equal(huge.admitted, false);
      assert.equal(huge.retryAfterMs, Infinity);
    } finally {
      await t.close();
    }
  });

  test('no window-long span admits more than the limit, across a window boundary', async () => {
    const t = await open();
    try {
      const id = t.identity('boundary');
      const limit = 5;
      // L just before the end of a window...
      await t.advance(WINDOW - 150);
      const before = await Promise.all(
        Array.from({ length: 2 * limit }, () => t.store.take(id, [requests(limit)])),
      );
      assert.equal(before.filter((d) => d.admitted).length, limit);
      // ...and L just after it, still within one window of the first: none admitted.
      await t.advance(250);
      const after = await Promise.all(
        Array.from({ length: 2 * limit }, () => t.store.take(id, [requests(limit)])),
      );
      assert.equal(after.filter((d) => d.admitted).length, 0);
      // A whole window after the first ones: the budget is back.
      await t.advance(WINDOW);
      const later = await Promise.all(
        Array.from({ length: 2 * limit }, () => t.store.take(id, [requests(limit)])),
      );
      assert.equal(later.filter((d) => d.admitted).length, limit);
    } finally {
      await t.close();
    }
  });

  test('units come back as they leave the window, oldest first', async () => {
    const t = await open();
    try {
      const id = t.identity('sliding');
      assert.equal((await t.store.take(id, [points(3, 4)])).admitted, true);
      await t.advance(WINDOW / 2);
      assert.equal((await t.store.take(id, [points(1, 4)])).admitted, true);
      const refused = await t.store.take(id, [points(2, 4)]);
      assert.equal(refused.admitted, false);
      // The 3 spent first leave a window after they came: about half a window from now.
      assert.ok(
        refused.retryAfterMs > WINDOW / 2 - 100 && refused.retryAfterMs <= WINDOW / 2,
        `${refused.retryAfterMs}`,
      );
      await t.advance(WINDOW / 2 + 20);
      const later = await t.store.take(id, [points(2, 4)]);
      assert.equal(later.admitted, true);
      assert.equal(later.states[0]!.remaining, 1);
    } finally {
      await t.close();
    }
  });
}
