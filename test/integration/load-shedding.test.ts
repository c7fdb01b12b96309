import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import diagnostics from 'node:diagnostics_channel';
import { once } from 'node:events';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import { request } from 'undici';
import { stringify } from 'yaml';
import { startUsersRest, type RunningBackend } from '../../demo/backends/users-rest.ts';
import type { LoadEvent } from '../../src/kernel/channels.ts';
import { startLibraryServer } from '../fixtures/protos/library-server.ts';
import {
  get,
  post,
  read,
  startGatewayOver,
  startHttpBackend,
  startSubgraphs,
  startTestGateway,
  writeProject,
  type GatewayOver,
  type HttpResult,
  type TestGateway,
} from '../helpers/env.ts';
import type { SubgraphServerOptions } from '../helpers/subgraph-server.ts';
import { everySurfaceConfig, getUserOverGrpc } from '../helpers/surfaces.ts';

/**
 * Load shedding as clients meet it: a flood past the gateway's in-flight and queue caps gets
 * 503s with Retry-After while every admitted request succeeds; waiters past queue_timeout are
 * refused; slots come back after answers and after clients leave; a saturated backend fails
 * only its own fields; the gRPC port and REST routes answer in their own forms; probes are never
 * shed; memory stays bounded; a slowloris is cut at the headers timeout.
 *
 * The slow subgraph holds every request until the test opens its valve, so "fast" needs no
 * clock: a refusal that arrives while every admitted request is still held was not queued
 * behind the backend.
 */

/** Holds whoever waits on it until opened. */
class Valve {
  #open!: () => void;
  #opened = new Promise<void>((resolve) => (this.#open = resolve));
  wait(): Promise<void> {
    return this.#opened;
  }
  open(): void {
    this.#open();
  }
  close(): void {
    this.#opened = new Promise<void>((resolve) => (this.#open = resolve));
  }
}

const LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: [])';
const valve = new Valve();
const slow: Omit<SubgraphServerOptions, 'port'> = {
  name: 'slow',
  sdl: `${LINK}\ntype Query { slow: String }`,
  resolvers: { Query: { slow: async () => (await valve.wait(), 'slow') } },
};
const fast: Omit<SubgraphServerOptions, 'port'> = {
  name: 'fast',
  sdl: `${LINK}\ntype Query { fast: String }`,
  resolvers: { Query: { fast: () => 'fast' } },
};

/**
 * The inbound gate's counts as `gateway:load` publishes them (one gateway runs at a time in
 * this file): the latest, the highest seen, and refusals by reason.
 */
class LoadWatch {
  inFlight = 0;
  queued = 0;
  maxInFlight = 0;
  maxQueued = 0;
  readonly shed = new Map<string, number>();
  readonly #waiters = new Set<() => void>();
  readonly #listener = (message: unknown) => {
    const event = message as LoadEvent;
    if (event.gate !== 'inbound') return;
    if (event.type === 'shed') this.shed.set(event.reason, (this.shed.get(event.reason) ?? 0) + 1);
    else {
      this.inFlight = event.inFlight;
      this.queued = event.queued;
      this.maxInFlight = Math.max(this.maxInFlight, event.inFlight);
      this.maxQueued = Math.max(this.maxQueued, event.queued);
    }
    for (const check of this.#waiters) check();
  };
  constructor() {
    diagnostics.subscribe('gateway:load', this.#listener);
  }
  /** Resolves once `ready` holds (checked at each event). */
  until(ready: (watch: LoadWatch) => boolean): Promise<void> {
    if (ready(this)) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!ready(this)) return;
        this.#waiters.delete(check);
        resolve();
      };
      this.#waiters.add(check);
    });
  }
  reset(): void {
    this.maxInFlight = this.inFlight;
    this.maxQueued = this.queued;
    this.shed.clear();
  }
  close(): void {
    diagnostics.unsubscribe('gateway:load', this.#listener);
  }
}

const SLOW = { query: '{ slow }' };

/** `{ slow }` from a client that may leave: what the request ends with, its error included. */
function postSlow(url: string, signal: AbortSignal): Promise<unknown> {
  return request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(SLOW),
    signal,
  }).catch((error: unknown) => error);
}

function assertOverloaded(answer: HttpResult): void {
  assert.equal(answer.status, 503);
  assert.equal(answer.headers['retry-after'], '1');
  assert.equal(answer.json.errors[0].extensions.code, 'SERVER_OVERLOADED');
  assert.equal(answer.json.errors[0].extensions.retryAfter, 1);
  assert.equal(answer.json.data, undefined);
}

describe('the gateway’s admission cap', () => {
  let env: GatewayOver;
  let watch: LoadWatch;

  before(async () => {
    watch = new LoadWatch();
    env = await startGatewayOver([slow, fast], {
      config: { traffic: { inbound: { max_in_flight: 4, max_queued: 8, queue_timeout: '30s' } } },
    });
  });
  after(async () => {
    valve.open();
    watch.close();
    await env.close();
  });

  test('a flood past the in-flight and queue caps gets fast 503s with Retry-After while every admitted request succeeds', async () => {
    valve.close();
    watch.reset();
    const FLOOD = 200;
    const ADMITTED = 4 + 8;
    const settled: HttpResult[] = [];
    const answers = Array.from({ length: FLOOD }, (_, i) =>
      post(env.gateway.url, SLOW, { 'x-correlation-id': `flood-${i}` }).then((answer) => {
        settled.push(answer);
        return answer;
      }),
    );
    // Everything beyond the 12 the gateway holds is answered while the backend still holds
    // every admitted request: refused without waiting on it.
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (settled.length < FLOOD - ADMITTED) return;
        clearInterval(check);
        resolve();
      }, 5);
    });
    assert.equal(settled.length, FLOOD - ADMITTED);
    for (const answer of settled) assertOverloaded(answer);
    assert.deepEqual([watch.inFlight, watch.queued], [4, 8]);
    assert.equal(watch.maxInFlight, 4);
    assert.equal(watch.maxQueued, 8, 'the queue never held more than max_queued');
    assert.equal(watch.shed.get('queue_full'), FLOOD - ADMITTED);

    valve.open();
    const all = await Promise.all(answers);
    const served = all.filter((answer) => answer.status === 200);
    assert.equal(served.length, ADMITTED);
    for (const answer of served) assert.deepEqual(answer.json, { data: { slow: 'slow' } });

    // The log line marks a refused request with its outcome.
    const refusedId = settled[0]!.headers['x-correlation-id'];
    const line = await env.gateway.logs.find(
      (l) => l.msg === 'request' && l.correlationId === refusedId,
    );
    assert.equal(line.status, 503);
    assert.deepEqual(line.errors, ['SERVER_OVERLOADED']);
    assert.deepEqual(line.calls, []);

    // Every slot came back: the gauges read 0 and the next request is served.
    await watch.until((w) => w.inFlight === 0 && w.queued === 0);
    const next = await post(env.gateway.url, { query: '{ fast }' });
    assert.equal(next.status, 200);
    const metrics = (await get(`${env.gateway.adminOrigin}/metrics`)).text;
    assert.match(metrics, /^gateway_requests_queued 0$/m);
    assert.match(
      metrics,
      new RegExp(
        `^gateway_requests_shed_total\\{surface="graphql",reason="queue_full"\\} ${FLOOD - ADMITTED}$`,
        'm',
      ),
    );
    assert.match(
      metrics,
      /^gateway_requests_total\{surface="graphql",[^}]*outcome="SERVER_OVERLOADED"\} 188$/m,
    );
  });

  test('health, readiness and metrics are answered while the gateway is full', async () => {
    valve.close();
    const held = Array.from({ length: 12 }, () => post(env.gateway.url, SLOW));
    await watch.until((w) => w.inFlight === 4 && w.queued === 8);
    assertOverloaded(await post(env.gateway.url, SLOW));
    assert.equal((await get(`${env.gateway.origin}/healthz`)).status, 200);
    assert.equal((await get(`${env.gateway.origin}/readyz`)).status, 200);
    const metrics = await get(`${env.gateway.adminOrigin}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /^gateway_requests_in_flight 4$/m);
    assert.match(metrics.text, /^gateway_requests_queued 8$/m);
    valve.open();
    for (const answer of await Promise.all(held)) assert.equal(answer.status, 200);
    await watch.until((w) => w.inFlight === 0 && w.queued === 0);
  });

  test('memory stays bounded through a flood of 2000 refused requests', async (t) => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    valve.close();
    watch.reset();
    const held = Array.from({ length: 12 }, () => post(env.gateway.url, SLOW));
    await watch.until((w) => w.inFlight === 4 && w.queued === 8);
    // A first flood warms every path (parsers, pools, caches) before the baseline.
    const flood = async (count: number) => {
      for (let sent = 0; sent < count; sent += 100) {
        const answers = await Promise.all(
          Array.from({ length: 100 }, () => post(env.gateway.url, SLOW)),
        );
        for (const answer of answers) assert.equal(answer.status, 503);
      }
    };
    await flood(200);
    gc();
    const baseline = process.memoryUsage().heapUsed;
    await flood(2_000);
    gc();
    const grown = process.memoryUsage().heapUsed - baseline;
    t.diagnostic(`heap grew by ${Math.round(grown / 1024)} KiB over 2000 refused requests`);
    // A refused request keeps nothing: what remains is the counters' and log capture's (the
    // test keeps every log line, ~1 KiB each), far below what 2000 held requests would take.
    assert.ok(grown < 16 * 1024 * 1024, `heap grew by ${Math.round(grown / 1024)} KiB`);
    assert.equal(watch.maxQueued, 8);
    assert.equal(watch.maxInFlight, 4);
    valve.open();
    for (const answer of await Promise.all(held)) assert.equal(answer.status, 200);
    await watch.until((w) => w.inFlight === 0 && w.queued === 0);
  });
});

describe('the admission queue’s timeout and clients that leave', () => {
  let env: GatewayOver;
  let watch: LoadWatch;

  before(async () => {
    watch = new LoadWatch();
    env = await startGatewayOver([slow, fast], {
      config: {
        traffic: { inbound: { max_in_flight: 1, max_queued: 2, queue_timeout: '1s' } },
        server: { headers_timeout: '1s' },
      },
    });
  });
  after(async () => {
    valve.open();
    watch.close();
    await env.close();
  });

  test('a request that waits queue_timeout without a slot is refused; the one holding it is served', async () => {
    valve.close();
    watch.reset();
    const holder = post(env.gateway.url, SLOW);
    await watch.until((w) => w.inFlight === 1);
    const waiter = await post(env.gateway.url, SLOW);
    assertOverloaded(waiter);
    assert.equal(watch.shed.get('queue_timeout'), 1);
    assert.equal(watch.queued, 0);
    valve.open();
    assert.equal((await holder).status, 200);
    await watch.until((w) => w.inFlight === 0);
  });

  test('a client that leaves gives back its place in the queue, and its slot, at once', async () => {
    valve.close();
    watch.reset();
    const holding = new AbortController();
    const holder = postSlow(env.gateway.url, holding.signal);
    await watch.until((w) => w.inFlight === 1);
    const waiting = new AbortController();
    const waiter = postSlow(env.gateway.url, waiting.signal);
    await watch.until((w) => w.queued === 1);
    waiting.abort();
    await watch.until((w) => w.queued === 0);
    assert.equal(watch.shed.get('cancelled'), 1);
    assert.ok((await waiter) instanceof Error);
    // The holder leaves while its backend call is still held: its slot is free for the next.
    holding.abort();
    await watch.until((w) => w.inFlight === 0);
    assert.ok((await holder) instanceof Error);
    const next = post(env.gateway.url, { query: '{ fast }' });
    assert.equal((await next).status, 200);
    valve.open();
    await watch.until((w) => w.inFlight === 0 && w.queued === 0);
  });

  test('a client that sends its headers byte by byte is cut at the headers timeout while others are served', async () => {
    const port = Number(new URL(env.gateway.origin).port);
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    const closed = once(socket, 'close');
    const head = 'POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ';
    let sent = 0;
    let open = true;
    void closed.then(() => (open = false));
    // One byte every 50 ms, for at most 20 s: long past the 1 s headers timeout.
    const drip = setInterval(() => {
      if (!open || sent > 400) return clearInterval(drip);
      socket.write(sent < head.length ? head[sent]! : 'a');
      sent++;
    }, 50);
    // Meanwhile the gateway serves others.
    assert.equal((await post(env.gateway.url, { query: '{ fast }' })).status, 200);
    await closed;
    clearInterval(drip);
    assert.ok(sent < 400, 'the connection was closed before the client gave up');
    assert.match(received, /^HTTP\/1\.1 408 /);
    assert.equal((await post(env.gateway.url, { query: '{ fast }' })).status, 200);
  });
});

describe('a backend’s cap', () => {
  let subgraphs: Awaited<ReturnType<typeof startSubgraphs>>;
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateway: TestGateway;

  before(async () => {
    subgraphs = await startSubgraphs([slow, fast]);
    project = await writeProject(subgraphs.servers);
    const sub = (name: string) => ({
      routing_url: subgraphs.byName(name).url,
      schema: { file: `./${name}.graphql` },
    });
    await project.write(
      'supergraph.yaml',
      stringify({
        federation_version: '=2.3.0',
        subgraphs: {
          // Its own cap over the backends' default: one call at a time, no queue.
          slow: { ...sub('slow'), traffic: { max_in_flight: 1, max_queued: 0 } },
          fast: sub('fast'),
        },
        // Dedup off: the identical queries below must each call the slow backend.
        traffic: { backends: { max_in_flight: 100 }, dedup: { enabled: false } },
      }),
    );
    gateway = await startTestGateway({ configFile: project.configFile });
  });
  after(async () => {
    valve.open();
    await gateway.close();
    await subgraphs.close();
    await project.remove();
  });

  test('a saturated backend fails only its own fields, fast; another subgraph’s are served', async () => {
    valve.close();
    const holder = post(gateway.url, SLOW);
    const slowServer = subgraphs.byName('slow');
    if (slowServer.received.length === 0) await once(slowServer.events, 'request');
    const answer = await post(
      gateway.url,
      { query: '{ slow fast }' },
      {
        'x-correlation-id': 'backend-full',
      },
    );
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json.data, { slow: null, fast: 'fast' });
    assert.equal(answer.json.errors.length, 1);
    assert.equal(answer.json.errors[0].extensions.code, 'UPSTREAM_OVERLOADED');
    assert.equal(answer.json.errors[0].extensions.subgraph, 'slow');
    assert.deepEqual(answer.json.errors[0].path, ['slow']);
    const line = await gateway.logs.find(
      (l) => l.msg === 'request' && l.correlationId === 'backend-full',
    );
    const outcomes = (line.calls as { backend: string; outcome: string }[])
      .map((c) => `${c.backend}:${c.outcome}`)
      .sort();
    assert.deepEqual(outcomes, ['fast:ok', 'slow:UPSTREAM_OVERLOADED']);
    const metrics = (await get(`${gateway.adminOrigin}/metrics`)).text;
    assert.match(
      metrics,
      /^gateway_backend_calls_shed_total\{backend="slow",reason="queue_full"\} 1$/m,
    );
    assert.match(metrics, /^gateway_backend_calls_in_flight\{backend="slow"\} 1$/m);
    valve.open();
    assert.deepEqual((await holder).json, { data: { slow: 'slow' } });
    // Its slot came back: the next call to it is made.
    assert.deepEqual((await post(gateway.url, SLOW)).json, { data: { slow: 'slow' } });
  });
});

describe('shedding on the REST and gRPC surfaces', () => {
  let users: RunningBackend;
  let library: Awaited<ReturnType<typeof startLibraryServer>>;
  let held: { url: string; close(): Promise<void> };
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateway: TestGateway;
  let watch: LoadWatch;

  before(async () => {
    watch = new LoadWatch();
    users = await startUsersRest();
    library = await startLibraryServer();
    // A route backend that answers once the valve opens: it holds the gateway's one slot.
    held = await startHttpBackend((_req, res) => {
      void valve.wait().then(() => res.end('{}'));
    });
    project = await writeProject([]);
    await project.write(
      'supergraph.yaml',
      stringify(
        everySurfaceConfig(users.url, library.address, {
          routes: [{ path_prefix: '/held', backends: [{ url: held.url }] }],
          traffic: { inbound: { max_in_flight: 1, max_queued: 0 } },
        }),
      ),
    );
    gateway = await startTestGateway({ configFile: project.configFile });
  });
  after(async () => {
    valve.open();
    watch.close();
    await gateway.close();
    await users.close();
    await library.close();
    await held.close();
    await project.remove();
  });

  test('a REST route and the gRPC port answer in their own forms; both are served once the slot is free', async () => {
    valve.close();
    const holder = request(`${gateway.origin}/held/x`).then(read);
    await watch.until((w) => w.inFlight === 1);

    const route = await get(`${gateway.origin}/api/users/1`);
    assert.equal(route.status, 503);
    assert.equal(route.headers['retry-after'], '1');
    assert.equal(route.json.code, 14);
    assert.equal(route.json.details[0].reason, 'SERVER_OVERLOADED');
    assert.deepEqual(route.json.details[1], {
      '@type': 'type.googleapis.com/google.rpc.RetryInfo',
      retryDelay: '1s',
    });
    const transcoded = await get(`${gateway.origin}/v1/shelves/1/books/2`);
    assert.equal(transcoded.status, 503);
    assert.equal(transcoded.json.details[0].reason, 'SERVER_OVERLOADED');

    const refused = await getUserOverGrpc(gateway.running.grpcAddress as string);
    assert.equal(refused.error?.code, grpc.status.UNAVAILABLE);
    assert.deepEqual(refused.error!.metadata.get('grpc-retry-pushback-ms'), ['1000']);

    valve.open();
    assert.equal((await holder).status, 200);
    await watch.until((w) => w.inFlight === 0);
    assert.equal((await get(`${gateway.origin}/api/users/1`)).status, 200);
    assert.equal((await getUserOverGrpc(gateway.running.grpcAddress as string)).error, undefined);
    const metrics = (await get(`${gateway.adminOrigin}/metrics`)).text;
    assert.match(metrics, /^gateway_requests_shed_total\{surface="rest",reason="queue_full"\} 2$/m);
    assert.match(metrics, /^gateway_requests_shed_total\{surface="grpc",reason="queue_full"\} 1$/m);
  });
});
