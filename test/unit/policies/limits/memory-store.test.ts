import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SLOTS_PER_WINDOW } from '../../../../src/policies/limits/stores/store.ts';
import { MemoryLimitStore } from '../../../../src/policies/limits/stores/memory.ts';
import { limitStoreContract } from '../../../helpers/limit-store-contract.ts';

function fakeClock() {
  let now = 1_000;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('memory limit store', () => {
  limitStoreContract(async () => {
    const clock = fakeClock();
    const store = new MemoryLimitStore({ clock });
    return {
      store,
      advance: async (ms) => clock.advance(ms),
      identity: (name) => name,
      close: () => store.close(),
    };
  });

  test('identities whose windows emptied are forgotten', async () => {
    const clock = fakeClock();
    const store = new MemoryLimitStore({ clock, sweepEveryMs: 5 });
    try {
      for (let i = 0; i < 100; i++)
        await store.take(`ip:${i}`, [{ policy: 'r', cost: 1, budget: { limit: 1, windowMs: 50 } }]);
      assert.equal(store.size, 100);
      clock.advance(51);
      await new Promise((resolve) => setTimeout(resolve, 30));
      assert.equal(store.size, 0);
    } finally {
      await store.close();
    }
  });

  test('a budget keeps at most one slot per 1/1000 of its window, whatever its limit', async () => {
    const clock = fakeClock();
    const store = new MemoryLimitStore({ clock });
    try {
      const charge = { policy: 'daily', cost: 1, budget: { limit: 1_000_000, windowMs: 10_000 } };
      for (let i = 0; i < 50_000; i++) {
        assert.equal(store.decide('busy', [charge]).admitted, true);
        clock.advance(0.5);
      }
      assert.ok(store.slots <= SLOTS_PER_WINDOW + 1, `${store.slots} slots`);
      // The last 10 s held 20,000 (one every 0.5 ms), plus this one; a slot (10 ms, 20 units)
      // may still be counted that is just out of the window.
      const { remaining } = store.decide('busy', [charge]).states[0]!;
      assert.ok(
        remaining <= 1_000_000 - 20_001 && remaining >= 1_000_000 - 20_001 - 20,
        `${remaining}`,
      );
    } finally {
      await store.close();
    }
  });

  test('random arrivals: no window-long span ever admits more than the limit', async () => {
    const clock = fakeClock();
    const store = new MemoryLimitStore({ clock });
    let seed = 7;
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const windowMs = 1_000;
    const limit = 40;
    const admitted: [number, number][] = [];
    try {
      for (let i = 0; i < 5_000; i++) {
        clock.advance(random() * 30);
        const cost = 1 + Math.floor(random() * 4);
        const decision = store.decide('r', [{ policy: 'p', cost, budget: { limit, windowMs } }]);
        if (decision.admitted) admitted.push([clock.now(), cost]);
      }
      for (const [end] of admitted) {
        const inSpan = admitted
          .filter(([t]) => t > end - windowMs && t <= end)
          .reduce((sum, [, cost]) => sum + cost, 0);
        assert.ok(inSpan <= limit, `${inSpan} units in the window ending at ${end}`);
      }
      // And the budget is used: about the limit per window over the run.
      const spent = admitted.reduce((sum, [, cost]) => sum + cost, 0);
      const windows = (clock.now() - 1_000) / windowMs;
      assert.ok(spent > 0.9 * limit * windows, `${spent} units in ${windows.toFixed(1)} windows`);
    } finally {
      await store.close();
    }
  });

  test('on fractional clock readings the wait is never longer than the window', async () => {
    // Just under 2^23 ms: adding the window crosses a binary exponent, where sums round.
    let now = 8_388_600.918_273;
    const store = new MemoryLimitStore({ clock: { now: () => now } });
    try {
      for (let i = 0; i < 100; i++) {
        now += 0.123_456_7;
        const { states } = store.decide('f', [
          { policy: 'p', cost: 1, budget: { limit: 1_000, windowMs: 10_000 } },
        ]);
        assert.ok(states[0]!.resetMs <= 10_000, `${states[0]!.resetMs}`);
      }
    } finally {
      await store.close();
    }
  });
});
