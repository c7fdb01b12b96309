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
    balance: 'round_robin',
    outlier_detection: {
      enabled: true,
      consecutive_failures: 5,
      failure_rate: { threshold: 50, minimum_calls: 20, interval: 10_000 },
      base_ejection_time: 10_000,
      max_ejection_time: 300_000,
      max_ejection_percent: 50,
    },
    retries: {
      enabled: true,
      max_retries: 2,
      base_backoff: 25,
      max_backoff: 250,
      budget_percent: 20,
      min_retry_concurrency: 3,
    },
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

test('instances, balancing, health checks, outlier detection, retries and DNS: top level and per subgraph', () => {
  const { config } = parseConfig(
    `${BASE}    instances: [10.0.0.1:4001, "[::1]:4001"]
    traffic:
      balance: least_loaded
      health_check: false
      retries: { max_retries: 0 }
      dns: { refresh: 5s }
traffic:
  health_check: { path: /healthz, interval: 2s }
  outlier_detection: { consecutive_failures: 3, failure_rate: { threshold: 0 } }
`,
    FILE,
    {},
  );
  assert.deepEqual(config.subgraphs.users?.instances, ['10.0.0.1:4001', '[::1]:4001']);
  assert.equal(config.subgraphs.users?.traffic?.balance, 'least_loaded');
  assert.equal(config.subgraphs.users?.traffic?.health_check, false);
  assert.equal(config.subgraphs.users?.traffic?.retries?.max_retries, 0);
  assert.equal(config.subgraphs.users?.traffic?.retries?.budget_percent, 20);
  assert.equal(
    config.subgraphs.users?.traffic?.dns && config.subgraphs.users.traffic.dns.refresh,
    5_000,
  );
  assert.deepEqual(config.traffic.health_check, {
    path: '/healthz',
    service: '',
    interval: 2_000,
    timeout: 1_000,
    healthy_threshold: 2,
    unhealthy_threshold: 3,
  });
  assert.equal(config.traffic.outlier_detection.consecutive_failures, 3);
  assert.equal(config.traffic.outlier_detection.failure_rate.threshold, 0);
  assert.equal(config.traffic.outlier_detection.failure_rate.minimum_calls, 20);
});

test('circuit_breaker is refused with its replacement named; bad instances and percentages with their line', () => {
  const message = configFailure(
    `${BASE}    instances: [10.0.0.1]
traffic:
  outlier_detection: { max_ejection_percent: 150 }
  retries: { budget_percent: -1 }
  balance: random
`,
    FILE,
  );
  assert.match(message, /:7:17: subgraphs\.users\.instances\[0\]: expected host:port/);
  assert.match(message, /:9:46: traffic\.outlier_detection\.max_ejection_percent: Too big/);
  assert.match(message, /:10:30: traffic\.retries\.budget_percent: Too small/);
  assert.match(message, /:11:12: traffic\.balance: expected one of round_robin, least_loaded/);
  const old = configFailure(`${BASE}circuit_breaker:\n  enabled: true\n`, FILE);
  assert.match(
    old,
    /:8:3: circuit_breaker: replaced by traffic\.outlier_detection: max_ejection_percent: 100/,
  );
});

test('an adapter subgraph takes its instances under source', () => {
  const message = configFailure(
    `federation_version: =2.3.0
subgraphs:
  users:
    instances: [127.0.0.1:4001]
    source: { kind: rest, base_url: http://127.0.0.1:4001 }
    schema: { sdl: "type Query { a: Int }" }
`,
    FILE,
  );
  assert.match(
    message,
    /subgraphs\.users\.instances: an adapter subgraph calls its backend itself: give source\.instances/,
  );
});

test('routes, transcoded and gRPC-port services take their own traffic; a transcode over a subgraph does not', () => {
  const { config } = parseConfig(
    `${BASE}routes:
  - path_prefix: /api
    backends: [{ url: http://127.0.0.1:5000 }]
    traffic: { max_in_flight: 4, health_check: { path: /ping } }
grpc_server:
  services:
    users:
      protos: [users.proto]
      base_url: http://127.0.0.1:5001
      traffic: { balance: least_loaded }
`,
    FILE,
    {},
  );
  assert.equal(config.routes[0]?.traffic?.max_in_flight, 4);
  assert.equal(
    config.routes[0]?.traffic?.health_check && config.routes[0].traffic.health_check.path,
    '/ping',
  );
  assert.equal(config.grpc_server.services.users?.traffic?.balance, 'least_loaded');
  const message = configFailure(
    `${BASE}transcode:
  orders:
    subgraph: users
    traffic: { max_in_flight: 2 }
`,
    FILE,
  );
  assert.match(message, /transcode\.orders\.traffic: comes from subgraph users/);
});
