import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsConfig } from '../../../src/config/schema.ts';
import { channels, type ApqStoreSignal } from '../../../src/kernel/channels.ts';
import { createScope } from '../../../src/kernel/context.ts';
import { createLogger } from '../../../src/observability/log.ts';
import { Telemetry } from '../../../src/observability/telemetry.ts';
import { LogCapture } from '../../helpers/env.ts';

test('a flapping APQ store writes one warning a minute, not one per transition, and counts every fallback', async (t) => {
  const scope = createScope();
  const logs = new LogCapture();
  const logger = createLogger({ level: 'info' }, logs);
  const telemetry = new Telemetry({
    scope,
    logger,
    events: logger,
    logRequests: false,
    metrics: MetricsConfig.parse({ process: false }),
  });
  t.after(() => telemetry.close());
  const publish = (event: ApqStoreSignal) => channels.apqStore.publish({ ...event, scope });
  // Ten flaps within the minute: each down and up a transition, each with a fallback.
  for (let i = 0; i < 10; i++) {
    publish({ type: 'down', initial: false, reason: 'Connection is closed.' });
    publish({ type: 'fallback', operation: 'get' });
    publish({ type: 'up', initial: false });
  }
  await logs.find((l) => String(l.msg).startsWith('APQ store available again'));
  const lines = logs.lines.map((l) => l.msg);
  assert.deepEqual(lines, [
    'APQ store unavailable: documents served and registered by this instance alone',
    'APQ store available again: documents shared',
  ]);
  const { body } = await telemetry.metrics!.scrape();
  assert.match(body, /^gateway_apq_store_fallbacks_total\{operation="get"\} 10$/m);
  assert.match(body, /^gateway_apq_store_up\{store="redis"\} 1$/m);
});
