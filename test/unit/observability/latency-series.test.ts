import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Histogram, Registry } from 'prom-client';
import { LatencyFamily } from '../../../src/observability/latency-series.ts';

const BUCKETS = [0.01, 0.1, 1];
const spec = {
  counter: { name: 'calls_total', help: 'Calls.' },
  histogram: { name: 'call_seconds', help: 'Call time.' },
  labelNames: ['backend', 'outcome'],
  buckets: BUCKETS,
};
// Values on a bound go in that bucket (`le` is inclusive); 5 is past every bound (+Inf only).
const OBSERVED: [string, string, number][] = [
  ['users', 'ok', 0.004],
  ['users', 'ok', 0.01],
  ['users', 'ok', 0.5],
  ['users', 'ok', 5],
  ['orders', 'GATEWAY_TIMEOUT', 1],
];

const sampleLines = (text: string) =>
  text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .sort();

test('the text written is what prom-client writes for the same observations', async () => {
  const family = new LatencyFamily(spec);
  const registry = new Registry();
  const counter = new Counter({
    ...spec.counter,
    labelNames: spec.labelNames,
    registers: [registry],
  });
  const histogram = new Histogram({
    ...spec.histogram,
    labelNames: spec.labelNames,
    buckets: BUCKETS,
    registers: [registry],
  });
  for (const [backend, outcome, seconds] of OBSERVED) {
    family.observe([backend, outcome], seconds);
    counter.inc({ backend, outcome });
    histogram.observe({ backend, outcome }, seconds);
  }
  const ours = family.render();
  assert.deepEqual(sampleLines(ours), sampleLines(await registry.metrics()));
  assert.match(ours, /^# HELP calls_total Calls\.\n# TYPE calls_total counter\n/);
  assert.match(ours, /\n# TYPE call_seconds histogram\n/);
  assert.ok(ours.includes('call_seconds_bucket{le="0.01",backend="users",outcome="ok"} 2'));
  assert.ok(ours.includes('call_seconds_bucket{le="+Inf",backend="users",outcome="ok"} 4'));
  assert.ok(ours.includes('call_seconds_count{backend="orders",outcome="GATEWAY_TIMEOUT"} 1'));
});

test('label values are escaped as the text format requires', () => {
  const family = new LatencyFamily(spec);
  family.observe(['a "quoted" \\ back\nslash', 'ok'], 0.001);
  assert.ok(
    family
      .render()
      .includes('calls_total{backend="a \\"quoted\\" \\\\ back\\nslash",outcome="ok"} 1'),
  );
});

test('a family with no label values yet writes only its headers', () => {
  const text = new LatencyFamily(spec).render();
  assert.deepEqual(sampleLines(text), []);
  assert.match(text, /# TYPE calls_total counter/);
});
