import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { persistedQueryError, searchParamsOf } from '../../../src/gateway/persisted-query.ts';

const QUERY = '{ me { name } }';
const HASH = createHash('sha256').update(QUERY).digest('hex');
const apq = (persistedQuery: unknown, query?: string) => ({
  ...(query === undefined ? {} : { query }),
  extensions: { persistedQuery },
});

const cases: [string, unknown, string | undefined][] = [
  ['a request without a persisted query passes', { query: QUERY }, undefined],
  [
    'a registration whose hash matches its query passes',
    apq({ version: 1, sha256Hash: HASH }, QUERY),
    undefined,
  ],
  ['a hash alone (a lookup) passes', apq({ version: 1, sha256Hash: HASH }), undefined],
  [
    'a hash of another query is a mismatch',
    apq({ version: 1, sha256Hash: HASH.replace(/^./, '0') }, `${QUERY} `),
    'PERSISTED_QUERY_HASH_MISMATCH',
  ],
  [
    'an uppercase hash is a mismatch, as Apollo compares',
    apq({ version: 1, sha256Hash: HASH.toUpperCase() }, QUERY),
    'PERSISTED_QUERY_HASH_MISMATCH',
  ],
  [
    'a hash that is not a string is a mismatch',
    apq({ version: 1, sha256Hash: 7 }, QUERY),
    'PERSISTED_QUERY_HASH_MISMATCH',
  ],
  [
    'a version other than 1 is a bad request',
    apq({ version: 2, sha256Hash: HASH }, QUERY),
    'BAD_REQUEST',
  ],
  ['a body that is not an object is left to Apollo Server', 'nonsense', undefined],
  [
    'GET parameters are read with extensions as JSON text',
    searchParamsOf(
      `?query=${encodeURIComponent(QUERY)}&extensions=${encodeURIComponent(JSON.stringify({ persistedQuery: { version: 1, sha256Hash: 'ab' } }))}`,
    ),
    'PERSISTED_QUERY_HASH_MISMATCH',
  ],
  [
    'malformed GET extensions are left to Apollo Server',
    searchParamsOf('?query=x&extensions=%7B'),
    undefined,
  ],
];

for (const [name, params, code] of cases) {
  test(`persisted queries: ${name}`, () => {
    const error = persistedQueryError(params);
    assert.equal(error?.code, code);
    if (error) assert.equal(error.status, 400);
  });
}
