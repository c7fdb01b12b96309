import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTemplate, renderPath, renderValue } from '../../../src/adapters/template.ts';

const values = {
  args: { id: 'a/b c', ids: ['1', '2'], n: 5, input: { name: 'x' }, none: null },
  parent: { id: '7' },
};

const paths: [string, string][] = [
  ['/users/{args.id}', '/users/a%2Fb%20c'],
  ['/users/{parent.id}/orders', '/users/7/orders'],
  ['/batch/{args.ids}', '/batch/1%2C2'],
  ['/x/{args.none}', '/x/'],
  ['/plain', '/plain'],
];
for (const [template, expected] of paths) {
  test(`the path ${template} renders as ${expected}`, () => {
    assert.equal(renderPath(parseTemplate(template), values), expected);
  });
}

const rendered: [string, unknown][] = [
  ['{args.input}', { name: 'x' }],
  ['{args.n}', 5],
  ['{args.ids}', ['1', '2']],
  ['{args.input.name}', 'x'],
  ['n={args.n}', 'n=5'],
  ['{args.missing}', undefined],
];
for (const [template, expected] of rendered) {
  test(`the value ${template} renders as ${JSON.stringify(expected)}`, () => {
    assert.deepEqual(renderValue(parseTemplate(template), values), expected);
  });
}

for (const bad of ['{id}', '{args}', '{args.}', '{other.x}', '/a/{args.id', '/a/args.id}']) {
  test(`the template ${bad} is refused`, () => {
    assert.throws(() => parseTemplate(bad));
  });
}
