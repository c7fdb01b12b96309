import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, HTTP_STATUS } from '../../../src/kernel/errors.ts';

test('docs/errors.md lists every error code with its HTTP status, and no other', async () => {
  const doc = await readFile(join(import.meta.dirname, '../../../docs/errors.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| `([A-Z_]+)`\s*\|[^|]+\|\s*(\d{3})\s*\|/gm)].map((m) => [
    m[1],
    Number(m[2]),
  ]);
  const expected = Object.values(ErrorCode).map((code) => [code, HTTP_STATUS[code]]);
  assert.deepEqual(rows.sort(), expected.sort());
});
