import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, HTTP_STATUS, isClientSafe, logLevelOf } from '../../../src/kernel/errors.ts';

test('docs/errors.md lists every error code with its HTTP status, and no other', async () => {
  const doc = await readFile(join(import.meta.dirname, '../../../docs/errors.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| `([A-Z_]+)`\s*\|[^|]+\|\s*(\d{3})\s*\|/gm)].map((m) => [
    m[1],
    Number(m[2]),
  ]);
  const expected = Object.values(ErrorCode).map((code) => [code, HTTP_STATUS[code]]);
  assert.deepEqual(rows.sort(), expected.sort());
});

// The one log and masking policy: a 5xx code (or one not in the table) is the gateway's or a
// backend's failure; everything else is the client's mistake or an expected answer.
const policy: [code: string | undefined, level: 'error' | 'info', clientSafe: boolean][] = [
  ['GRAPHQL_PARSE_FAILED', 'info', true],
  ['GRAPHQL_VALIDATION_FAILED', 'info', true],
  ['BAD_USER_INPUT', 'info', true],
  ['BAD_REQUEST', 'info', true],
  ['PERSISTED_QUERY_NOT_FOUND', 'info', true],
  ['NOT_FOUND', 'info', true],
  ['UNAUTHENTICATED', 'info', true],
  ['RATE_LIMITED', 'info', true],
  ['SUPERGRAPH_NOT_READY', 'error', true],
  ['UPSTREAM_UNAVAILABLE', 'error', true],
  ['GATEWAY_TIMEOUT', 'error', true],
  ['UPSTREAM_ERROR', 'error', true],
  ['UPSTREAM_CIRCUIT_OPEN', 'info', true],
  ['SERVER_OVERLOADED', 'info', true],
  ['INTERNAL_SERVER_ERROR', 'error', false],
  ['DOWNSTREAM_SERVICE_ERROR', 'error', false],
  ['INVALID_GRAPHQL', 'error', false],
  [undefined, 'error', false],
];

for (const [code, level, clientSafe] of policy) {
  test(`${code ?? 'an error without a code'} logs at ${level} and is ${clientSafe ? 'shown' : 'masked'} in production`, () => {
    assert.equal(logLevelOf(code), level);
    assert.equal(isClientSafe(String(code)), clientSafe);
  });
}

test('every code answering below 500 logs at info, every other at error but those reported once', () => {
  const once = new Set(['SERVER_OVERLOADED', 'UPSTREAM_CIRCUIT_OPEN']);
  for (const code of Object.values(ErrorCode))
    assert.equal(
      logLevelOf(code),
      HTTP_STATUS[code] < 500 || once.has(code) ? 'info' : 'error',
      code,
    );
});
