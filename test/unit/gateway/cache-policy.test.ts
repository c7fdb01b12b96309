import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCacheHint } from '../../../src/gateway/data-sources/cache-policy.ts';

const cases: [string | undefined, ReturnType<typeof parseCacheHint>][] = [
  [undefined, { maxAge: 0 }],
  ['no-store', { maxAge: 0 }],
  ['max-age=60', { maxAge: 60 }],
  ['public, max-age=30', { maxAge: 30, scope: 'PUBLIC' }],
  ['private, max-age="15"', { maxAge: 15, scope: 'PRIVATE' }],
  ['max-age=60, private, public', { maxAge: 60, scope: 'PRIVATE' }],
  ['max-age=abc', { maxAge: 0 }],
];

for (const [header, hint] of cases) {
  test(`a subgraph Cache-Control of ${JSON.stringify(header)} gives the hint ${JSON.stringify(hint)}`, () => {
    assert.deepEqual(parseCacheHint(header), hint);
  });
}
