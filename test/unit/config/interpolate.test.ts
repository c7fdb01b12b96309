import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interpolate } from '../../../src/config/interpolate.ts';

const env = { HOST: 'db.local', PORT: '5432', EMPTY: '' };

const cases: [string, string][] = [
  ['plain text', 'plain text'],
  ['${HOST}', 'db.local'],
  ['http://${HOST}:${PORT}/graphql', 'http://db.local:5432/graphql'],
  ['${MISSING:-fallback}', 'fallback'],
  ['${EMPTY:-fallback}', 'fallback'],
  ['${HOST:-fallback}', 'db.local'],
  ['${MISSING:-}', ''],
  ['${MISSING:-a:-b}', 'a:-b'],
  ['$${HOST}', '${HOST}'],
  ['cost: $5', 'cost: $5'],
];
for (const [input, expected] of cases) {
  test(`interpolates ${JSON.stringify(input)} to ${JSON.stringify(expected)}`, () => {
    assert.equal(interpolate(input, env), expected);
  });
}

const failures: [string, RegExp][] = [
  [
    '${MISSING}',
    /environment variable MISSING is not set \(write \$\{MISSING:-default\} to give one\)$/,
  ],
  ['${EMPTY}', /environment variable EMPTY is not set/],
  ['${HOST', /unclosed "\$\{"/],
  ['${1BAD}', /"\$\{1BAD\}" is not a variable reference/],
  ['${}', /is not a variable reference/],
];
for (const [input, message] of failures) {
  test(`refuses ${JSON.stringify(input)}`, () => {
    assert.throws(() => interpolate(input, env), message);
  });
}
