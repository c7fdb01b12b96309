import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { GatewayConfigSchema } from '../../../src/config/schema.ts';
import { ROOT, codeSpans, onlyCode, readDoc, tablesFirstColumn } from '../../helpers/markdown.ts';

/**
 * Every key path of supergraph.yaml, written as the docs write them: `<name>` for a map key,
 * `[]` for a list item. A key whose value is a mapping of known keys is a section (its keys are
 * listed, the section need not be); anything else is a setting, with its zod schema to read the
 * default from. A union of `true` and a mapping (`tls`) is both.
 */
interface Key {
  section: boolean;
  setting?: z.ZodType;
}

function collectKeys(): Map<string, Key> {
  const keys = new Map<string, Key>();
  const add = (path: string, key: Key) => {
    const known = keys.get(path);
    keys.set(path, {
      section: key.section || (known?.section ?? false),
      ...((key.setting ?? known?.setting) ? { setting: key.setting ?? known?.setting } : {}),
    });
  };
  const unwrap = (schema: z.ZodType): z.ZodType => {
    let inner = schema;
    for (;;) {
      if (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault)
        inner = inner.unwrap() as z.ZodType;
      else if (inner instanceof z.ZodPipe) inner = inner.in as z.ZodType;
      else return inner;
    }
  };
  /** Walks `schema` found at `path`; returns whether it held keys of its own. */
  const walk = (path: string, schema: z.ZodType): boolean => {
    const inner = unwrap(schema);
    if (inner instanceof z.ZodObject) {
      for (const [name, child] of Object.entries(inner.shape as Record<string, z.ZodType>)) {
        const at = path ? `${path}.${name}` : name;
        const section = walk(at, child);
        add(at, section ? { section } : { section, setting: child });
      }
      return true;
    }
    if (inner instanceof z.ZodUnion) {
      // Options that are mappings lend their keys; a scalar option makes the key a setting too.
      const options = inner.options as z.ZodType[];
      const mappings = options.filter((o) => walk(path, o));
      if (mappings.length < options.length && path) add(path, { section: false, setting: schema });
      return mappings.length === options.length;
    }
    if (inner instanceof z.ZodRecord) return walk(`${path}.<name>`, inner.valueType as z.ZodType);
    if (inner instanceof z.ZodArray) return walk(`${path}[]`, inner.element as z.ZodType);
    return false;
  };
  walk('', GatewayConfigSchema);
  return keys;
}

const KEYS = collectKeys();
const SETTINGS = [...KEYS].filter(([, key]) => key.setting).map(([path]) => path);

/** Rows of the `key | default | meaning` tables of a page: the key and its default cell. */
function keyRows(page: string): { key: string; cell: string; defaultCell: string }[] {
  return tablesFirstColumn(readDoc(page), 'key').flatMap((table) => {
    assert.deepEqual(table.header.slice(0, 2), ['key', 'default'], `${page}: a key table`);
    return table.rows.map((row) => {
      const cell = row[0] ?? '';
      const spans = codeSpans(cell);
      assert.equal(spans.length, 1, `${page}: one key per row, got "${cell}"`);
      return { key: spans[0] as string, cell, defaultCell: row[1] ?? '' };
    });
  });
}

test('docs/configuration.md documents every setting of the config schema', () => {
  const documented = new Set(keyRows('configuration.md').map((row) => row.key));
  assert.deepEqual(
    SETTINGS.filter((path) => !documented.has(path)),
    [],
  );
});

test('every key the docs document exists in the config schema', () => {
  const pages = readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md'));
  const unknown = pages.flatMap((page) =>
    keyRows(page)
      .filter((row) => !KEYS.has(row.key))
      .map((row) => `${page}: ${row.key}`),
  );
  assert.deepEqual(unknown, []);
});

test('a default written as a value in docs/configuration.md is the schema default', () => {
  for (const { key, defaultCell } of keyRows('configuration.md')) {
    const setting = KEYS.get(key)?.setting;
    if (!setting) continue;
    if (!(setting instanceof z.ZodDefault)) continue;
    assert.notEqual(defaultCell, '', `${key} has a default the docs do not give`);
    const written = onlyCode(defaultCell);
    // A default described in words ("as `introspection`", "every service") is not checked.
    if (written === undefined) continue;
    assert.deepEqual(
      setting.parse(parseYaml(written)),
      setting.parse(undefined),
      `${key}: the docs say ${written}`,
    );
  }
});
