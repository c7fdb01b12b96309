import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSchema, execute, parse } from 'graphql';
import type { RequestContext } from '../../../../src/kernel/context.ts';
import { limitFields } from '../../../../src/policies/limits/field-limits.ts';
import { MemoryLimitStore } from '../../../../src/policies/limits/stores/memory.ts';
import type { Charge, LimitStore } from '../../../../src/policies/limits/stores/store.ts';
import { fieldLimitContract } from '../../../helpers/field-limit-contract.ts';

describe('field limits over the memory store', () => {
  fieldLimitContract(async () => {
    let now = 1_000;
    const store = new MemoryLimitStore({ clock: { now: () => now } });
    return {
      store,
      advance: async (ms) => void (now += ms),
      identity: (name) => name,
      close: () => store.close(),
    };
  });
});

test('the store decides: one take per resolution, named by subgraph, coordinate and identityArgs values', async () => {
  const takes: { identity: string; charges: readonly Charge[] }[] = [];
  // A store that refuses everything past its first answer, whatever graphql-rate-limit counts.
  const store: LimitStore = {
    kind: 'stub',
    take: async (identity, charges) => {
      takes.push({ identity, charges });
      const admitted = takes.length === 1;
      return {
        admitted,
        retryAfterMs: admitted ? 0 : 2_500,
        states: [{ remaining: admitted ? 4 : 0, resetMs: 60_000 }],
      };
    },
    close: async () => {},
  };
  const schema = buildSchema('type Query { b(id: ID!): String }');
  limitFields(
    schema,
    new Map([['Query.b', { window: '1m', windowMs: 60_000, max: 5, identityArgs: ['id'] }]]),
    { subgraph: 'users', storeOf: () => store, identify: () => 'ip:10.0.0.1' },
  );
  const run = async () =>
    JSON.parse(
      JSON.stringify(
        await execute({
          schema,
          document: parse('{ b(id: "7") }'),
          rootValue: { b: () => 'B' },
          contextValue: {} as RequestContext,
        }),
      ),
    );
  assert.deepEqual((await run()).data, { b: 'B' });
  const refused = await run();
  assert.deepEqual(refused.data, { b: null });
  assert.equal(refused.errors[0].extensions.retryAfter, 3);
  assert.deepEqual(takes[0], {
    identity: 'ip:10.0.0.1',
    charges: [{ policy: 'field:users Query.b:7', cost: 1, budget: { limit: 5, windowMs: 60_000 } }],
  });
  assert.equal(takes.length, 2);
});
