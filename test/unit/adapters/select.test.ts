import { test } from 'node:test';
import assert from 'node:assert/strict';
import { select } from '../../../src/adapters/select.ts';

const answer = {
  data: { items: [{ id: '1' }, { id: '2' }], total: 0, next: null, empty: '' },
  ok: false,
};

/** [path, the value there]: one rule for @rest, @grpc, their entities and template placeholders. */
const PATHS: [string, unknown][] = [
  ['', answer],
  ['data.items', [{ id: '1' }, { id: '2' }]],
  ['data.items.1.id', '2'],
  ['data.total', 0],
  ['data.empty', ''],
  ['ok', false],
  ['data.next', null],
  ['data.next.id', undefined],
  ['data.missing', undefined],
  ['data.missing.deeper', undefined],
  ['data.total.toFixed', undefined],
  ['data.empty.length', undefined],
  ['data.constructor', undefined],
  ['data.__proto__', undefined],
  ['toString', undefined],
  ['data.items.9', undefined],
];
for (const [path, expected] of PATHS) {
  test(`select "${path}" is ${JSON.stringify(expected) ?? 'undefined'}`, () => {
    assert.deepEqual(select(answer, path.split('.').filter(Boolean)), expected);
  });
}

test('select reads objects without a prototype, as GraphQL builds arguments', () => {
  const args = Object.assign(Object.create(null) as object, { input: { name: 'x' } });
  assert.equal(select(args, ['input', 'name']), 'x');
});

test('select of anything but an object or array is undefined past the empty path', () => {
  for (const value of [null, undefined, 5, 'text', true]) {
    assert.equal(select(value, []), value);
    assert.equal(select(value, ['x']), undefined);
  }
});
