import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LimitsConfig } from '../../../src/config/schema.ts';

const parse = (policies: unknown[]) => LimitsConfig.safeParse({ rate: { policies } });
const messages = (policies: unknown[]) =>
  parse(policies).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];

test('rate limits are off by default: no policies', () => {
  assert.deepEqual(LimitsConfig.parse({}).rate, { policies: [] });
});

test('a policy takes its defaults: unit requests, every surface, no plans', () => {
  const [policy] = parse([{ name: 'per-minute', limit: 100, window: '1m' }]).data!.rate.policies;
  assert.deepEqual(policy, {
    name: 'per-minute',
    unit: 'requests',
    limit: 100,
    window: 60_000,
    plans: {},
  });
});

test('two policies with one name are refused: the name identifies the budget', () => {
  const found = messages([
    { name: 'a', limit: 1, window: '1s' },
    { name: 'a', limit: 2, window: '1m' },
  ]);
  assert.equal(found.length, 1);
  assert.match(found[0]!, /^rate\.policies\.1\.name: "a" names another policy too/);
});

// Names are sf-strings in the RateLimit headers and metric label values: no quoting needed.
for (const name of ['has space', '"quoted"', '1st', 'a,b', 'x'.repeat(65), '']) {
  test(`a policy name such as ${JSON.stringify(name.slice(0, 12))} is refused`, () => {
    assert.match(messages([{ name, limit: 1, window: '1s' }])[0]!, /^rate\.policies\.0\.name/);
  });
}

for (const window of ['1500ms', '500ms', 0]) {
  test(`a window of ${window} is refused: the headers give whole seconds`, () => {
    assert.match(
      messages([{ name: 'a', limit: 1, window }])[0]!,
      /^rate\.policies\.0\.window: expected a whole number of seconds/,
    );
  });
}

test('limits are positive whole numbers, plan limits too', () => {
  assert.equal(messages([{ name: 'a', limit: 0, window: '1s' }]).length, 1);
  assert.equal(messages([{ name: 'a', limit: 5, window: '1s', plans: { gold: 1.5 } }]).length, 1);
});
