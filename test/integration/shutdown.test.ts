import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { SHOP } from '../fixtures/graphs/shop.ts';
import { get, post, startGatewayOver } from '../helpers/env.ts';

test('shutdown lets a slow request in flight finish, then stops accepting', async (t) => {
  const env = await startGatewayOver(SHOP, { delayMs: 400 });
  t.after(() => env.close());
  const inFlight = post(env.gateway.url, { query: '{ me { name } }' });
  await once(env.subgraphs.byName('accounts').events, 'request');

  const stopped = env.gateway.running.shutdown();
  const res = await inFlight;
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, { data: { me: { name: 'Ada Lovelace' } } });
  assert.equal(res.headers.connection, 'close');
  assert.equal(await stopped, true);
  await assert.rejects(get(`${env.gateway.origin}/healthz`), { code: 'ECONNREFUSED' });
});

test('shutdown cuts requests still running when shutdown_timeout ends', async (t) => {
  const env = await startGatewayOver(SHOP, { delayMs: 5_000, server: { shutdown_timeout: 100 } });
  t.after(() => env.close());
  const inFlight = post(env.gateway.url, { query: '{ me { name } }' }).then(
    () => 'answered',
    (error: Error & { code?: string }) => error.code,
  );
  await once(env.subgraphs.byName('accounts').events, 'request');
  assert.equal(await env.gateway.running.shutdown(), false);
  assert.equal(await inFlight, 'UND_ERR_SOCKET');
});

test('during shutdown_delay new requests are still served while readiness says draining', async (t) => {
  const env = await startGatewayOver(SHOP, { server: { shutdown_delay: 2_000 } });
  t.after(() => env.close());
  const stopped = env.gateway.running.shutdown();
  const ready = await get(`${env.gateway.origin}/readyz`);
  assert.equal(ready.status, 503);
  assert.equal(ready.json.status, 'draining');
  const res = await post(env.gateway.url, { query: '{ me { name } }' });
  assert.deepEqual(res.json, { data: { me: { name: 'Ada Lovelace' } } });
  assert.equal(res.headers.connection, 'close');
  assert.equal(await stopped, true);
  await assert.rejects(get(`${env.gateway.origin}/healthz`), { code: 'ECONNREFUSED' });
});
