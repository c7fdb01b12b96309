import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { renderConfigSchema, SCHEMA_FILE } from '../../../scripts/config-schema.ts';

test('supergraph.schema.json matches the schema in src/config/schema.ts', async () => {
  assert.equal(
    await readFile(SCHEMA_FILE, 'utf8'),
    renderConfigSchema(),
    'run: npx tsx scripts/config-schema.ts',
  );
});
