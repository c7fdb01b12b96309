import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
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
});
