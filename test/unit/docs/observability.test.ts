import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics } from '../../../src/observability/metrics.ts';
import { codeSpans, readDoc, tablesFirstColumn } from '../../helpers/markdown.ts';

interface Family {
  type: string;
  labels: Set<string>;
}

/**
 * What the gateway serves at /metrics once every kind of observation has happened: each family's
 * type (from `# TYPE`) and the label names of its series (`le` is the histogram's own).
 */
async function scrapedFamilies(): Promise<Map<string, Family>> {
  const metrics = createMetrics({ processMetrics: true });
  metrics.recordRequest('graphql', 'web', 'Q', 'ok', 0.01);
  metrics.recordCall('users', 'rest', 'ok', 0.002);
  metrics.recordDeduplicated('users', 'rest');
  metrics.recordRateLimited('per-minute', 'graphql');
  metrics.recordCost('web', 6);
  metrics.recordActualCost('web', 4);
  metrics.recordReload(true);
  metrics.recordCacheLookup('document', true);
  metrics.recordInstance('users', '127.0.0.1:4201', 'ejected', 'consecutive_failures');
  metrics.recordRetry('users', 'unavailable', false);
  metrics.recordRetry('users', 'unavailable', true);
  metrics.recordLimitStoreUp('redis', true);
  metrics.recordLimitStoreFallback('redis');
  metrics.recordApqStoreUp(true);
  metrics.recordApqStoreFallback('get');
  metrics.recordCache({
    type: 'lookup',
    cache: 'entity',
    entryType: 'Product',
    result: 'hit',
    count: 2,
  });
  metrics.recordCache({ type: 'evict', cache: 'entity', entryType: 'Product', bytes: 600 });
  metrics.recordCache({ type: 'write', cache: 'response', bytes: 80 });
  metrics.recordCache({ type: 'size', cache: 'response', bytes: 592 });
  metrics.recordCache({ type: 'invalidate', source: 'admin', removed: 3 });
  metrics.recordCache({ type: 'up', initial: true });
  metrics.recordCache({ type: 'fallback', operation: 'get' });
  metrics.recordLoad('inbound', 'inbound', 3, 1);
  metrics.recordLoad('backend', 'users', 2, 0);
  metrics.recordShed('inbound', 'graphql', 'queue_full');
  metrics.recordShed('backend', 'users', 'queue_timeout');
  const { body } = await metrics.scrape();
  const families = new Map<string, Family>();
  for (const [, name, type] of body.matchAll(/^# TYPE (\S+) (\S+)$/gm))
    families.set(name as string, { type: type as string, labels: new Set() });
  for (const [, series, labels = ''] of body.matchAll(/^([a-z_:]+)(?:\{(.*)\})? \S+$/gm)) {
    const name = (series as string).replace(/_(bucket|sum|count)$/, '');
    const family = families.get(name) ?? families.get(series as string);
    for (const [, label] of labels.matchAll(/([a-z_]+)="/g))
      if (label !== 'le') family?.labels.add(label as string);
  }
  return families;
}

/** The `metric | type | labels | meaning` table of docs/observability.md. */
function documentedMetrics() {
  const [table, ...others] = tablesFirstColumn(readDoc('observability.md'), 'metric');
  assert.ok(table && others.length === 0, 'one metrics table');
  assert.deepEqual(table.header.slice(0, 3), ['metric', 'type', 'labels']);
  return table.rows.flatMap((row) =>
    codeSpans(row[0] ?? '').map((name) => ({
      name,
      type: row[1] ?? '',
      labels: new Set(codeSpans(row[2] ?? '')),
    })),
  );
}

test('docs/observability.md documents every metric the gateway serves, with its type and labels, and no other', async () => {
  const served = await scrapedFamilies();
  const documented = documentedMetrics();
  // `process_*` stands for prom-client's default metrics, documented as a group.
  const prefixes = documented.filter((m) => m.name.endsWith('*'));
  const exact = documented.filter((m) => !m.name.endsWith('*'));
  const covered = (name: string) => prefixes.some((p) => name.startsWith(p.name.slice(0, -1)));

  assert.deepEqual(
    [...served.keys()].filter((name) => !covered(name)).sort(),
    exact.map((m) => m.name).sort(),
  );
  for (const prefix of prefixes)
    assert.ok(
      [...served.keys()].some((name) => name.startsWith(prefix.name.slice(0, -1))),
      `${prefix.name} matches no metric`,
    );
  for (const metric of exact) {
    const family = served.get(metric.name) as Family;
    assert.equal(metric.type, family.type, `${metric.name}: type`);
    assert.deepEqual(metric.labels, family.labels, `${metric.name}: labels`);
  }
});
