import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSchema, execute, parse } from 'graphql';
import type { RequestContext } from '../../src/kernel/context.ts';
import type { FieldLimit } from '../../src/kernel/field-limit.ts';
import { limitFields } from '../../src/policies/limits/field-limits.ts';
import type { StoreUnderTest } from './limit-store-contract.ts';

/** Short enough that real waiting stays cheap (a shared store's clock is its own). */
const WINDOW = 600;
const limit = (max: number, identityArgs: string[] = []): FieldLimit => ({
  window: `${WINDOW}ms`,
  windowMs: WINDOW,
  max,
  identityArgs,
});

/**
 * Field limits (policies/limits/field-limits.ts, through graphql-rate-limit) over any limit
 * store: what `@rateLimit` does whatever keeps the budgets. A store's own test file runs these
 * with its `open`, as it runs limitStoreContract.
 */
export function fieldLimitContract(open: () => Promise<StoreUnderTest>): void {
  /** A schema whose resolvers count their calls, limited as given; `run` executes as `who`. */
  async function setup(limits: Record<string, FieldLimit>) {
    const t = await open();
    const schema = buildSchema(`
      type Item { name: String detail: String }
      type Query { a: String b(id: ID!, input: In): String free: String items: [Item!]! }
      input In { key: String }
    `);
    const calls: Record<string, number> = {};
    const count = (name: string, value: unknown) => () => {
      calls[name] = (calls[name] ?? 0) + 1;
      return value;
    };
    const root = {
      a: count('a', 'A'),
      b: ({ id }: { id: string }) => count('b', `B${id}`)(),
      free: count('free', 'F'),
      items: [1, 2, 3].map((n) => ({ name: `item ${n}`, detail: count('detail', `D${n}`) })),
    };
    limitFields(schema, new Map(Object.entries(limits)), {
      subgraph: 'test',
      storeOf: () => t.store,
      identify: (ctx) => t.identity((ctx as unknown as { who: string }).who),
    });
    // As a client reads it: JSON (execute's data objects have no prototype).
    const run = async (query: string, who = 'alice'): Promise<any> => {
      const result = await execute({
        schema,
        document: parse(query),
        rootValue: root,
        contextValue: { who } as unknown as RequestContext,
      });
      return JSON.parse(JSON.stringify(result));
    };
    return { t, run, calls };
  }

  test('the call past max is null with RATE_LIMITED at its path, the rest is served, its resolver not called', async () => {
    const { t, run, calls } = await setup({ 'Query.a': limit(2) });
    try {
      assert.deepEqual((await run('{ a free }')).data, { a: 'A', free: 'F' });
      assert.deepEqual((await run('{ a free }')).data, { a: 'A', free: 'F' });
      const third = await run('{ a free }');
      assert.deepEqual(third.data, { a: null, free: 'F' });
      assert.equal(third.errors.length, 1);
      const error = third.errors[0];
      assert.deepEqual(error.path, ['a']);
      assert.equal(error.message, 'Too many requests for Query.a: at most 2 per 600ms.');
      const { retryAfter, ...rest } = error.extensions;
      assert.deepEqual(rest, {
        field: 'Query.a',
        window: '600ms',
        max: 2,
        code: 'RATE_LIMITED',
        subgraph: 'test',
      });
      // The wait until the first call leaves the window, in whole seconds rounded up.
      assert.equal(retryAfter, 1);
      assert.deepEqual(calls, { a: 2, free: 3 });
    } finally {
      await t.close();
    }
  });

  test('a refused call spends nothing, and the budget returns as the window slides', async () => {
    const { t, run } = await setup({ 'Query.a': limit(1) });
    try {
      assert.equal((await run('{ a }')).data?.a, 'A');
      await t.advance(WINDOW / 2);
      assert.equal((await run('{ a }')).data?.a, null);
      // The first call has left the window; the refused one was never in it.
      await t.advance(WINDOW / 2 + 50);
      assert.equal((await run('{ a }')).data?.a, 'A');
    } finally {
      await t.close();
    }
  });

  test('each identity has its own budget', async () => {
    const { t, run } = await setup({ 'Query.a': limit(1) });
    try {
      assert.equal((await run('{ a }', 'alice')).data?.a, 'A');
      assert.equal((await run('{ a }', 'bob')).data?.a, 'A');
      assert.equal((await run('{ a }', 'alice')).data?.a, null);
      assert.equal((await run('{ a }', 'bob')).data?.a, null);
    } finally {
      await t.close();
    }
  });

  test('identityArgs give each argument value its own budget, paths into inputs included', async () => {
    const { t, run } = await setup({ 'Query.b': limit(1, ['id', 'input.key']) });
    try {
      assert.equal((await run('{ b(id: "1", input: { key: "x" }) }')).data?.b, 'B1');
      assert.equal((await run('{ b(id: "2", input: { key: "x" }) }')).data?.b, 'B2');
      assert.equal((await run('{ b(id: "1", input: { key: "y" }) }')).data?.b, 'B1');
      assert.equal((await run('{ b(id: "1", input: { key: "x" }) }')).data?.b, null);
    } finally {
      await t.close();
    }
  });

  test('every resolution counts: a limited field under a list of 3 with max 2 is null on the third item', async () => {
    const { t, run, calls } = await setup({ 'Item.detail': limit(2) });
    try {
      const result = await run('{ items { name detail } }');
      assert.deepEqual(result.data, {
        items: [
          { name: 'item 1', detail: 'D1' },
          { name: 'item 2', detail: 'D2' },
          { name: 'item 3', detail: null },
        ],
      });
      assert.deepEqual(result.errors?.[0]?.path, ['items', 2, 'detail']);
      assert.equal(calls.detail, 2);
    } finally {
      await t.close();
    }
  });

  test('concurrent resolutions never both spend the last unit: 10 at once with max 3 admit 3', async () => {
    // graphql-rate-limit's own stores read, then write after an await: all 10 would read an
    // empty window. The bridge decides in the store's atomic take.
    const { t, run, calls } = await setup({ 'Query.a': limit(3) });
    try {
      const results = await Promise.all(Array.from({ length: 10 }, () => run('{ a }')));
      assert.equal(results.filter((r) => r.data.a === 'A').length, 3);
      assert.equal(calls.a, 3);
    } finally {
      await t.close();
    }
  });
}
