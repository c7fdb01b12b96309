import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatTraceparent,
  newSpanId,
  newTraceId,
  parseTraceparent,
  sampledAt,
} from '../../../src/observability/trace-context.ts';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

// [header, parsed parent or undefined] per https://www.w3.org/TR/trace-context/#traceparent-header
const HEADERS: [string, { sampled: boolean } | undefined][] = [
  [`00-${TRACE}-${SPAN}-01`, { sampled: true }],
  [`00-${TRACE}-${SPAN}-00`, { sampled: false }],
  [`00-${TRACE}-${SPAN}-03`, { sampled: true }], // other flag bits are ignored
  [`  00-${TRACE}-${SPAN}-01 `, { sampled: true }], // optional whitespace around the value
  [`01-${TRACE}-${SPAN}-01-future`, { sampled: true }], // a later version may add fields
  [`00-${TRACE}-${SPAN}-01-extra`, undefined], // version 00 has exactly four
  [`ff-${TRACE}-${SPAN}-01`, undefined], // version ff is forbidden
  [`00-${TRACE.toUpperCase()}-${SPAN}-01`, undefined], // lowercase hex only
  [`00-${'0'.repeat(32)}-${SPAN}-01`, undefined],
  [`00-${TRACE}-${'0'.repeat(16)}-01`, undefined],
  [`00-${TRACE.slice(1)}-${SPAN}-01`, undefined],
  [`00-${TRACE}-${SPAN}-1`, undefined],
  ['', undefined],
  ['garbage', undefined],
];
for (const [header, parsed] of HEADERS) {
  test(`traceparent ${JSON.stringify(header.slice(0, 24))}… is ${parsed ? 'read' : 'ignored'}`, () => {
    const parent = parseTraceparent(header);
    if (!parsed) return assert.equal(parent, undefined);
    assert.deepEqual(parent, { traceId: TRACE, spanId: SPAN, sampled: parsed.sampled });
  });
}

test('a repeated traceparent header is ignored', () => {
  assert.equal(parseTraceparent([`00-${TRACE}-${SPAN}-01`, `00-${TRACE}-${SPAN}-01`]), undefined);
  assert.equal(parseTraceparent(undefined), undefined);
});

test('a written traceparent reads back', () => {
  for (const sampled of [true, false])
    assert.deepEqual(parseTraceparent(formatTraceparent(TRACE, SPAN, sampled)), {
      traceId: TRACE,
      spanId: SPAN,
      sampled,
    });
});

test('ids are lowercase hex of the right length and do not repeat across pool refills', () => {
  const spans = new Set<string>();
  // 10,000 span ids and 1,000 trace ids draw 96,000 bytes: the 4 KiB pool refills many times.
  for (let i = 0; i < 10_000; i++) spans.add(newSpanId());
  const traces = new Set<string>();
  for (let i = 0; i < 1_000; i++) traces.add(newTraceId());
  assert.equal(spans.size, 10_000);
  assert.equal(traces.size, 1_000);
  for (const id of spans) assert.match(id, /^[\da-f]{16}$/);
  for (const id of traces) assert.match(id, /^[\da-f]{32}$/);
});

test('sampling keeps about the configured share of new traces, the same way for the same id', () => {
  const ids = Array.from({ length: 10_000 }, () => newTraceId());
  assert.ok(ids.every((id) => sampledAt(id, 1)));
  assert.ok(ids.every((id) => !sampledAt(id, 0)));
  const kept = ids.filter((id) => sampledAt(id, 0.25)).length;
  // Binomial(10,000, 0.25): mean 2,500, standard deviation 43; 4 sigma is 173.
  assert.ok(Math.abs(kept - 2_500) < 173, `${kept} of 10,000 sampled at 0.25`);
  for (const id of ids.slice(0, 100)) assert.equal(sampledAt(id, 0.25), sampledAt(id, 0.25));
  // A lower ratio keeps a subset of what a higher one keeps.
  assert.ok(ids.every((id) => !sampledAt(id, 0.1) || sampledAt(id, 0.25)));
});
