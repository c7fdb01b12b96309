import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEntityLoaders, type EntityResolution } from '../../../src/adapters/entity-loader.ts';
import type { Values } from '../../../src/adapters/template.ts';
import type { RequestContext } from '../../../src/kernel/context.ts';
import { ErrorCode, GatewayError } from '../../../src/kernel/errors.ts';

type Ref = Record<string, unknown>;

const BATCH: EntityResolution = {
  mode: 'batch',
  keyFields: ['id'],
  maxBatch: 100,
  concurrency: 8,
  label: 'GET /users',
};
const PER_KEY: EntityResolution = { ...BATCH, mode: 'key', label: 'GET /users/{key.id}' };

/** A request context: the loaders only use it as the key of their per-request map. */
function request(): RequestContext {
  return {} as RequestContext;
}

/** Loaders over a fake backend that records each call's values and answers with `answer`. */
function setup(
  entity: EntityResolution,
  answer: (values: Values) => unknown,
  options: { itemKey?: (type: string, field: string) => string } = {},
) {
  const calls: Values[] = [];
  const loaders = createEntityLoaders({
    subgraph: 'users',
    entities: new Map([
      ['User', entity],
      ['Team', { ...entity, label: 'GET /teams' }],
    ]),
    call: async (_entity, values) => {
      calls.push(values);
      return answer(values);
    },
    ...options,
  });
  return { calls, loaders };
}

/** A batch backend that knows users 1 to 9 and answers them as `{ id: <number>, name }`. */
function knownUsers(values: Values): unknown {
  const ids = (values.keys as { id: unknown[] }).id;
  return ids.filter((id) => Number(id) < 10).map((id) => ({ id: Number(id), name: `U${id}` }));
}

/** Settles every promise; a rejection is its error. */
function settle(promises: Promise<unknown>[]): Promise<unknown[]> {
  return Promise.all(promises.map((p) => p.catch((error: unknown) => error)));
}

test('a batch entity sends each distinct key once, 1 and "1" being one key', async () => {
  const { calls, loaders } = setup(BATCH, knownUsers);
  const ctx = request();
  const refs = [{ id: '1' }, { id: 1 }, { id: '2' }, { id: '1' }];
  const found = await Promise.all(refs.map((ref) => loaders.load('User', ref, ctx)));
  assert.deepEqual(calls, [{ keys: { id: ['1', '2'] } }]);
  assert.deepEqual(
    found.map((user) => (user as Ref).name),
    ['U1', 'U1', 'U2', 'U1'],
  );
});

/** [distinct keys, maxBatch, keys per call] */
const BATCH_SIZES: [number, number, number[]][] = [
  [1, 100, [1]],
  [15, 8, [8, 7]],
  [5, 2, [2, 2, 1]],
  [3, 3, [3]],
];
for (const [count, maxBatch, sizes] of BATCH_SIZES) {
  test(`${count} keys with maxBatch ${maxBatch} go in calls of ${sizes.join(', ')}`, async () => {
    const { calls, loaders } = setup({ ...BATCH, maxBatch }, knownUsers);
    const ctx = request();
    await Promise.all(
      Array.from({ length: count }, (_, i) => loaders.load('User', { id: String(i) }, ctx)),
    );
    assert.deepEqual(
      calls.map((c) => (c.keys as { id: unknown[] }).id.length),
      sizes,
    );
  });
}

test('a batch answer is matched to the keys by key field, in any order', async () => {
  const { loaders } = setup(BATCH, () => [
    { id: 3, name: 'three' },
    { id: '1', name: 'one' },
  ]);
  const ctx = request();
  const found = await Promise.all(
    ['1', '2', '3'].map((id) => loaders.load('User', { __typename: 'User', id }, ctx)),
  );
  assert.deepEqual(found, [
    { __typename: 'User', id: '1', name: 'one' },
    null,
    { __typename: 'User', id: 3, name: 'three' },
  ]);
});

test('a batch answer is matched through the property a key field is renamed from', async () => {
  const { loaders } = setup(BATCH, () => [{ user_id: 7, name: 'seven' }], {
    itemKey: (type, field) => (type === 'User' && field === 'id' ? 'user_id' : field),
  });
  assert.deepEqual(await loaders.load('User', { id: '7' }, request()), {
    id: '7',
    user_id: 7,
    name: 'seven',
  });
});

test('a key of several fields matches on all of them', async () => {
  const entity = { ...BATCH, keyFields: ['org', 'id'] };
  const { calls, loaders } = setup(entity, () => [
    { org: 'a', id: 1, name: 'a1' },
    { org: 'b', id: 1, name: 'b1' },
  ]);
  const ctx = request();
  const found = await Promise.all([
    loaders.load('User', { org: 'b', id: '1' }, ctx),
    loaders.load('User', { org: 'a', id: '1' }, ctx),
    loaders.load('User', { org: 'c', id: '1' }, ctx),
  ]);
  assert.deepEqual(calls, [{ keys: { org: ['b', 'a', 'c'], id: ['1', '1', '1'] } }]);
  assert.deepEqual(
    found.map((user) => (user as Ref | null)?.name ?? null),
    ['b1', 'a1', null],
  );
});

/** Batch answers that are not a list: the backend's fault, on every key of the call. */
const NOT_A_LIST: [string, unknown][] = [
  ['nothing', undefined],
  ['nothing', null],
  ['an object', { users: [] }],
  ['a string', 'users'],
];
for (const [shape, answer] of NOT_A_LIST) {
  test(`a batch answer of ${JSON.stringify(answer) ?? 'undefined'} is UPSTREAM_ERROR for every key`, async () => {
    const { loaders } = setup(BATCH, () => answer);
    const ctx = request();
    const errors = await settle([
      loaders.load('User', { id: '1' }, ctx),
      loaders.load('User', { id: '2' }, ctx),
    ]);
    for (const error of errors) {
      assert.ok(error instanceof GatewayError);
      assert.equal(error.code, ErrorCode.UPSTREAM_ERROR);
      assert.equal(
        error.message,
        `Subgraph "users" answered GET /users with ${shape} where a list of entities was expected.`,
      );
      assert.equal(error.extensions.subgraph, 'users');
      // A field-level error: it must not set the HTTP status of a partial response.
      assert.equal(error.extensions.http, undefined);
    }
  });
}

test('a failed batch call fails every key of the call with its error', async () => {
  const failure = new GatewayError(ErrorCode.UPSTREAM_UNAVAILABLE, 'down');
  const { loaders } = setup(BATCH, () => {
    throw failure;
  });
  const ctx = request();
  assert.deepEqual(
    await settle([loaders.load('User', { id: '1' }, ctx), loaders.load('User', { id: '2' }, ctx)]),
    [failure, failure],
  );
});

test('a per-key entity makes one call per distinct key, the key being the reference', async () => {
  const { calls, loaders } = setup(PER_KEY, (values) => ({ name: `U${(values.key as Ref).id}` }));
  const ctx = request();
  const found = await Promise.all(
    [{ id: '1' }, { id: 1 }, { id: '2' }].map((ref) => loaders.load('User', ref, ctx)),
  );
  assert.deepEqual(calls, [{ key: { id: '1' } }, { key: { id: '2' } }]);
  assert.deepEqual(found, [
    { id: '1', name: 'U1' },
    { id: '1', name: 'U1' },
    { id: '2', name: 'U2' },
  ]);
});

test('a per-key entity has at most `concurrency` calls in flight', async () => {
  let inFlight = 0;
  let most = 0;
  const loaders = createEntityLoaders({
    subgraph: 'users',
    entities: new Map([['User', { ...PER_KEY, concurrency: 3 }]]),
    call: async (_entity, values) => {
      most = Math.max(most, ++inFlight);
      // Stay in flight for a turn of the event loop, so that the others could start.
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      return values.key;
    },
  });
  const ctx = request();
  const found = await Promise.all(
    Array.from({ length: 10 }, (_, i) => loaders.load('User', { id: String(i) }, ctx)),
  );
  assert.equal(found.length, 10);
  assert.equal(most, 3);
});

/** [what the per-key call does, what the reference resolves to] */
const PER_KEY_ANSWERS: [string, () => unknown, (result: unknown) => void][] = [
  [
    'throws NOT_FOUND',
    () => {
      throw new GatewayError(ErrorCode.NOT_FOUND, 'no such user');
    },
    (result) => assert.equal(result, null),
  ],
  ['answers null (204)', () => null, (result) => assert.equal(result, null)],
  ['answers nothing', () => undefined, (result) => assert.equal(result, null)],
  [
    'throws GATEWAY_TIMEOUT',
    () => {
      throw new GatewayError(ErrorCode.GATEWAY_TIMEOUT, 'slow');
    },
    (result) =>
      assert.ok(result instanceof GatewayError && result.code === ErrorCode.GATEWAY_TIMEOUT),
  ],
  [
    'answers a list',
    () => [{ id: '1' }],
    (result) =>
      assert.ok(
        result instanceof GatewayError &&
          result.code === ErrorCode.UPSTREAM_ERROR &&
          result.message ===
            'Subgraph "users" answered GET /users/{key.id} with a list where an entity was expected.',
      ),
  ],
];
for (const [what, answer, check] of PER_KEY_ANSWERS) {
  test(`a per-key call that ${what} settles its reference alone`, async () => {
    const { loaders } = setup(PER_KEY, (values) =>
      (values.key as Ref).id === 'bad' ? answer() : { name: 'fine' },
    );
    const ctx = request();
    const [bad, good] = await settle([
      loaders.load('User', { id: 'bad' }, ctx),
      loaders.load('User', { id: 'good' }, ctx),
    ]);
    check(bad);
    assert.deepEqual(good, { id: 'good', name: 'fine' });
  });
}

test('loaders are per request: a second request asks again, the same request does not', async () => {
  const { calls, loaders } = setup(BATCH, knownUsers);
  const first = request();
  await loaders.load('User', { id: '1' }, first);
  await loaders.load('User', { id: '1' }, first);
  await loaders.load('User', { id: '1' }, request());
  assert.equal(calls.length, 2);
});

test('loaders are per type: the same key of two types is two calls', async () => {
  const { calls, loaders } = setup(BATCH, knownUsers);
  const ctx = request();
  await Promise.all([
    loaders.load('User', { id: '1' }, ctx),
    loaders.load('Team', { id: '1' }, ctx),
  ]);
  assert.equal(calls.length, 2);
});

test('without a request context each reference is its own call', async () => {
  const { calls, loaders } = setup(BATCH, knownUsers);
  await Promise.all([
    loaders.load('User', { id: '1' }, undefined),
    loaders.load('User', { id: '1' }, undefined),
  ]);
  assert.equal(calls.length, 2);
});
