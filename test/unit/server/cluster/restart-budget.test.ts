import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RestartBudget } from '../../../../src/server/cluster/restart-budget.ts';
import { worstExit } from '../../../../src/server/cluster/exit-status.ts';

test('a dying worker is replaced after a delay that doubles, until the window has had its five', () => {
  const budget = new RestartBudget();
  // Five deaths a second apart: 100 ms, then doubled each time; the sixth within 60 s stops.
  const delays = [0, 1_000, 2_000, 3_000, 4_000, 5_000].map((at) => budget.next(at));
  assert.deepEqual(delays, [100, 200, 400, 800, 1_600, undefined]);
});

test('deaths older than the window no longer count', () => {
  const budget = new RestartBudget({
    maxRestarts: 2,
    windowMs: 10_000,
    baseDelayMs: 100,
    maxDelayMs: 150,
  });
  assert.equal(budget.next(0), 100);
  // Capped at maxDelayMs.
  assert.equal(budget.next(1_000), 150);
  assert.equal(budget.next(2_000), undefined);
  // The first two left the window: the count starts again.
  assert.equal(budget.next(11_500), 100);
});

test("the primary's exit code is the worst of its workers': failed over cut over drained", () => {
  const table: [(number | null)[], number][] = [
    [[0, 0], 0],
    [[], 0],
    [[0, 3], 3],
    [[3, 0, 3], 3],
    [[3, 1], 1],
    // Killed by a signal: it did not drain.
    [[0, null], 1],
    [[0, 7], 1],
  ];
  for (const [codes, code] of table) assert.equal(worstExit(codes), code, JSON.stringify(codes));
});
