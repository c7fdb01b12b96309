import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { STAGES } from '../../../src/gateway/pipeline.ts';
import { Upstreams } from '../../../src/policies/traffic/upstream-registry.ts';
import { interceptorsOf } from '../../../src/policies/traffic/chain.ts';
import { Gates } from '../../../src/policies/traffic/gate.ts';
import { TrafficConfig } from '../../../src/config/schema.ts';

const DOCS = join(import.meta.dirname, '../../../docs');
const read = (page: string) => readFileSync(join(DOCS, page), 'utf8');

/** The first cell of each row of the table after `marker`. */
function firstColumn(page: string, marker: string): string[] {
  const text = read(page);
  const after = text.slice(text.indexOf(marker));
  const rows: string[] = [];
  for (const line of after.split('\n').slice(1)) {
    if (line.trim() === '') {
      if (rows.length > 0) break;
      continue;
    }
    if (!line.startsWith('|')) break;
    const cell = line.split('|')[1]!.trim();
    if (cell.startsWith('`')) rows.push(cell.replaceAll('`', ''));
  }
  return rows;
}

test('docs/pipeline.md lists the stages in the order STAGES runs them', () => {
  assert.deepEqual(
    firstColumn('pipeline.md', '<!-- stages'),
    STAGES.map((s) => s.name),
  );
});

test('docs/pipeline.md lists the outbound interceptors in the order the chain composes them', () => {
  const all = interceptorsOf({
    upstreams: new Upstreams({ clock: { now: () => 0 } }),
    load: { gates: new Gates(), limitsOf: () => TrafficConfig.parse({}).backends },
  });
  assert.deepEqual(
    firstColumn('pipeline.md', '<!-- chain'),
    all.map((i) => i.name),
  );
});

test('docs/architecture.md has a row for every folder of src/, and no other', () => {
  const folders = readdirSync(join(import.meta.dirname, '../../../src'), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => `${e.name}/`)
    .sort();
  assert.deepEqual(firstColumn('architecture.md', '<!-- boundaries').sort(), folders);
});
