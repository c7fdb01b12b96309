import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RequestContext } from '../../../src/kernel/context.ts';
import { correlate } from '../../../src/observability/correlation.ts';
import { traceIdOf } from '../../../src/observability/trace-context.ts';

/** Just what the correlate stage reads and writes. */
function contextWith(headers: Record<string, string>, correlationHeader = 'x-correlation-id') {
  return {
    correlationId: '',
    correlationHeader,
    headers,
    responseHeaders: new Map<string, string>(),
    upstreamHeaders: {} as Record<string, string>,
  } as Partial<RequestContext> as RequestContext;
}

test('the correlation id travels in the configured header, in and out', () => {
  const ctx = contextWith({ 'x-request-id': 'req-7' }, 'x-request-id');
  correlate(ctx);
  assert.equal(ctx.correlationId, 'req-7');
  assert.equal(ctx.responseHeaders.get('x-request-id'), 'req-7');
  assert.equal(ctx.upstreamHeaders['x-request-id'], 'req-7');
  assert.equal(ctx.upstreamHeaders['x-correlation-id'], undefined);
});

// [client value, kept?] — the id lands in log lines and backend headers, so only plain ids pass.
const IDS: [string, boolean][] = [
  ['checkout-42', true],
  ['a.b:c_d-e', true],
  ['x'.repeat(128), true],
  ['x'.repeat(129), false],
  ['has space', false],
  ['-leading-dash', false],
  ['"quoted"', false],
  ['', false],
];
for (const [given, kept] of IDS) {
  test(`a client correlation id ${JSON.stringify(given.slice(0, 20))} is ${kept ? 'kept' : 'replaced by a UUID'}`, () => {
    const ctx = contextWith({ 'x-correlation-id': given });
    correlate(ctx);
    if (kept) assert.equal(ctx.correlationId, given);
    else
      assert.match(
        ctx.correlationId,
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
  });
}

test('a trace id is read only from a well-formed traceparent', () => {
  assert.equal(
    traceIdOf('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'),
    '4bf92f3577b34da6a3ce929d0e0e4736',
  );
  assert.equal(traceIdOf('00-00000000000000000000000000000000-00f067aa0ba902b7-01'), undefined);
  assert.equal(traceIdOf('garbage'), undefined);
  assert.equal(traceIdOf(undefined), undefined);
});
