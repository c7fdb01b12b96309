import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../../src/config/load.ts';
import { perWorkerWarnings } from '../../../../src/server/cluster/per-worker-state.ts';

function configOf(yaml: string) {
  return parseConfig(
    `subgraphs:\n  a: { routing_url: http://127.0.0.1:1/graphql, schema: { file: a.graphql } }\n${yaml}`,
    'supergraph.yaml',
    {},
  ).config;
}

test('each store kept in memory is named once with what several workers make of it', () => {
  const config = configOf(`
limits:
  rate:
    policies:
      - { name: per-client, limit: 10, window: 1s }
cache: { enabled: true }
auth:
  api_keys: { keys: [] }
`);
  const keys = perWorkerWarnings(config, 3, true).map((w) => w.key);
  assert.deepEqual(keys, [
    'limits.store.kind',
    'cache.store',
    'server.apq_cache.store',
    'auth.identity.proof.mode',
  ]);
  const limits = perWorkerWarnings(config, 3, true)[0]!.message;
  assert.match(limits, /up to 3x each rate limit; set limits\.store\.kind: redis/);
});

test('shared stores, hmac proofs and no authentication warn of nothing but a missing admin listener', () => {
  const config = configOf(`
redis: { url: redis://127.0.0.1:6379 }
server: { apq_cache: { store: redis } }
auth:
  identity: { proof: { mode: hmac, secret: "0123456789abcdef0123456789abcdef" } }
  api_keys: { keys: [] }
`);
  assert.deepEqual(perWorkerWarnings(config, 2, true), []);
  assert.deepEqual(
    perWorkerWarnings(config, 2, false).map((w) => w.key),
    ['server.admin'],
  );
});
