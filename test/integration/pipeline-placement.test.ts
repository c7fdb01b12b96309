import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { STAGES, type StageEntry } from '../../src/gateway/pipeline.ts';
import { ErrorCode, GatewayError } from '../../src/kernel/errors.ts';
import { accounts } from '../fixtures/graphs/shop.ts';
import { post, startGatewayOver, type GatewayOver } from '../helpers/env.ts';

/**
 * The placement test (after Apollo Router's): the real stage list, in its order, with a probe
 * after it that records what it saw and can refuse the request the way a policy stage would.
 */
describe('the request pipeline', () => {
  let env: GatewayOver;
  const seen: { correlationId: string; upstream: Record<string, string> }[] = [];
  let refuse = false;

  const probe: StageEntry = {
    name: 'probe',
    event: 'request',
    run(ctx) {
      seen.push({ correlationId: ctx.correlationId, upstream: { ...ctx.upstreamHeaders } });
      if (refuse) throw new GatewayError(ErrorCode.UNAUTHENTICATED, 'No credentials.');
    },
  };

  before(async () => {
    env = await startGatewayOver([accounts], { stages: [...STAGES, probe] });
  });

  after(() => env.close());

  test('runs the inbound stages in their written order', () => {
    assert.deepEqual(
      STAGES.map((s) => `${s.event}:${s.name}`),
      ['request:correlate'],
    );
  });

  test('a later stage sees what earlier stages set', async () => {
    seen.length = 0;
    await post(env.gateway.url, { query: '{ me { id } }' }, { 'x-correlation-id': 'order-1' });
    assert.deepEqual(seen, [
      { correlationId: 'order-1', upstream: { 'x-correlation-id': 'order-1' } },
    ]);
  });

  test('a stage that throws ends the request with its code and status before any subgraph is called', async () => {
    refuse = true;
    try {
      const before = env.subgraphs.servers[0]!.received.length;
      const res = await post(env.gateway.url, { query: '{ me { id } }' });
      assert.equal(res.status, 401);
      assert.deepEqual(res.json, {
        errors: [{ message: 'No credentials.', extensions: { code: 'UNAUTHENTICATED' } }],
      });
      assert.match(String(res.headers['x-correlation-id']), /^[0-9a-f-]{36}$/);
      assert.equal(env.subgraphs.servers[0]!.received.length, before);
    } finally {
      refuse = false;
    }
  });
});
