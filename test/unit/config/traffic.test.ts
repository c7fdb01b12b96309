import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.ts';
import { CONFIG_FILE, configFailure, ONE_SUBGRAPH } from '../../helpers/config.ts';

const FILE = CONFIG_FILE;
const BASE = ONE_SUBGRAPH;

test('defaults: 1024 in flight and 512 queued for the gateway, 128 and 256 per backend, 1s waits', () => {
  const { config } = parseConfig(BASE, FILE, {});
  assert.deepEqual(config.traffic, {
    inbound: { max_in_flight: 1024, max_queued: 512, queue_timeout: 1_000 },
    backends: { max_in_flight: 128, max_queued: 256, queue_timeout: 1_000 },
    dedup: { enabled: true },
  });
  assert.equal(config.subgraphs.users?.traffic, undefined);
  assert.equal(config.server.headers_timeout, 10_000);
});

test('a subgraph overrides some of the backends’ caps; durations are read as durations', () => {
  const { config } = parseConfig(
    `${BASE}    traffic: { max_in_flight: 2 }
traffic:
  inbound: { max_queued: 0, queue_timeout: 250ms }
server:
  headers_timeout: 2s
`,
    FILE,
    {},
  );
  assert.deepEqual(config.subgraphs.users?.traffic, { max_in_flight: 2 });
  assert.deepEqual(config.traffic.inbound, {
    max_in_flight: 1024,
    max_queued: 0,
    queue_timeout: 250,
  });
  assert.equal(config.server.headers_timeout, 2_000);
});

test('a negative or zero cap, a fraction, a bad duration and an unknown key are refused with their line', () => {
  const message = configFailure(
    `${BASE}    traffic: { max_queued: -1 }
traffic:
  inbound:
    max_in_flight: 0
    max_queued: 1.5
    queue_timeout: soon
  backends:
    max_inflight: 3
`,
    FILE,
  );
  assert.match(message, /:7:28: subgraphs\.users\.traffic\.max_queued: Too small/);
  assert.match(message, /:10:20: traffic\.inbound\.max_in_flight: Too small/);
  assert.match(message, /:11:17: traffic\.inbound\.max_queued: expected an int/);
  assert.match(message, /:12:20: traffic\.inbound\.queue_timeout: expected a duration/);
  assert.match(message, /:14:5: traffic\.backends\.max_inflight: unknown key .*"max_in_flight"/);
});
