// Writes supergraph.schema.json from src/config/schema.ts; with --check, fails when it drifted.
// Editors validate supergraph.yaml against it through the modeline on the file's first line.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { GatewayConfigSchema } from '../src/config/schema.ts';

export const SCHEMA_FILE = join(import.meta.dirname, '..', 'supergraph.schema.json');

export function renderConfigSchema(): string {
  const schema = z.toJSONSchema(GatewayConfigSchema, { io: 'input', unrepresentable: 'any' });
  return `${JSON.stringify({ title: 'supergraph.yaml', ...schema }, null, 2)}\n`;
}

if (process.argv[1] === import.meta.filename) {
  const expected = renderConfigSchema();
  if (process.argv.includes('--check')) {
    const actual = await readFile(SCHEMA_FILE, 'utf8').catch(() => '');
    if (actual !== expected) {
      console.error(
        'supergraph.schema.json is out of date: run `npx tsx scripts/config-schema.ts`',
      );
      process.exit(1);
    }
  } else {
    await writeFile(SCHEMA_FILE, expected);
    console.log(`wrote ${SCHEMA_FILE}`);
  }
}
