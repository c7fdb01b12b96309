import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { SpanQueue } from '../../../src/observability/span-export.ts';

/** Records the batches it is given; answers with `result` (or throws it). */
function recordingExporter(result: ExportResult | Error = { code: ExportResultCode.SUCCESS }) {
  const batches: string[][] = [];
  let shutDown = false;
  let notify = () => {};
  const exporter: SpanExporter = {
    export(spans, done) {
      if (result instanceof Error) throw result;
      batches.push(spans.map((s) => s.name));
      notify();
      done(result);
    },
    async shutdown() {
      shutDown = true;
    },
  };
  const nextBatch = () => new Promise<void>((resolve) => (notify = resolve));
  return { exporter, batches, nextBatch, isShutDown: () => shutDown };
}

const span = (name: string) => ({ name }) as ReadableSpan;

test('full batches leave at once; the rest leaves on flush', async () => {
  const { exporter, batches } = recordingExporter();
  const queue = new SpanQueue({ exporter, batchSize: 2 });
  for (const name of ['a', 'b', 'c', 'd', 'e']) queue.push(span(name));
  assert.deepEqual(batches, [
    ['a', 'b'],
    ['c', 'd'],
  ]);
  await queue.flush();
  assert.deepEqual(batches.at(-1), ['e']);
  await queue.shutdown();
});

test('a batch that is not full leaves when the interval ticks', async () => {
  const { exporter, batches, nextBatch } = recordingExporter();
  const queue = new SpanQueue({ exporter, intervalMs: 10 });
  const sent = nextBatch();
  queue.push(span('lonely'));
  assert.deepEqual(batches, []);
  // The queue's timer does not hold the process open (shutdown flushes); this one does.
  const holdOpen = setTimeout(() => {}, 10_000);
  await sent;
  clearTimeout(holdOpen);
  assert.deepEqual(batches, [['lonely']]);
  await queue.shutdown();
});

test('a full queue drops new spans and counts them', async () => {
  const { exporter, batches } = recordingExporter();
  const queue = new SpanQueue({ exporter, batchSize: 10, maxQueued: 3 });
  for (const name of ['a', 'b', 'c', 'd', 'e']) queue.push(span(name));
  assert.equal(queue.dropped, 2);
  await queue.flush();
  assert.deepEqual(batches, [['a', 'b', 'c']]);
  await queue.shutdown();
});

test('a failed export is reported and the queue goes on', async () => {
  const errors: string[] = [];
  const failing = recordingExporter({
    code: ExportResultCode.FAILED,
    error: new Error('collector said 503'),
  });
  const queue = new SpanQueue({
    exporter: failing.exporter,
    onError: (e) => errors.push(e.message),
  });
  queue.push(span('a'));
  await queue.flush();
  queue.push(span('b'));
  await queue.flush();
  assert.deepEqual(errors, ['collector said 503', 'collector said 503']);
  assert.deepEqual(failing.batches, [['a'], ['b']]);
  await queue.shutdown();

  const throwing = recordingExporter(new Error('exporter bug'));
  const second = new SpanQueue({
    exporter: throwing.exporter,
    onError: (e) => errors.push(e.message),
  });
  second.push(span('c'));
  await second.flush();
  assert.equal(errors.at(-1), 'exporter bug');
  await second.shutdown();
});

test('shutdown sends what waits, then shuts the exporter down', async () => {
  const { exporter, batches, isShutDown } = recordingExporter();
  const queue = new SpanQueue({ exporter });
  queue.push(span('last'));
  await queue.shutdown();
  assert.deepEqual(batches, [['last']]);
  assert.ok(isShutDown());
});

test('immediate mode sends each span as it ends', () => {
  const { exporter, batches } = recordingExporter();
  const queue = new SpanQueue({ exporter, immediate: true });
  queue.push(span('a'));
  queue.push(span('b'));
  assert.deepEqual(batches, [['a'], ['b']]);
  return queue.shutdown();
});
