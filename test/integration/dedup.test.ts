// In-flight deduplication (docs/traffic.md): identical read-only backend calls in flight at the
// same time make one call, and callers whose calls differ in anything the backend sees (the
// identity above all) never share one. Real servers on 127.0.0.1, port 0: a subgraph that
// answers slowly, so that concurrent requests overlap at it, and counts what reaches it.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { GrpcChannels } from '../../src/adapters/grpc/channels.ts';
import { channels } from '../../src/kernel/channels.ts';
import type { RequestContext } from '../../src/kernel/context.ts';
import { UpstreamTimeoutError } from '../../src/kernel/errors.ts';
import type { HttpCall } from '../../src/kernel/outbound.ts';
import { createOutbound } from '../../src/policies/traffic/chain.ts';
import { get, post, startTestGateway, type TestGateway } from '../helpers/env.ts';
import { chainContext } from '../helpers/context.ts';
import { asCaller, withTestIdentity } from '../helpers/identity.ts';

const SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
  type Query { me: String, echo(v: String): String, fail: String }
  type Mutation { bump: Int }
`;

/**
 * A GraphQL backend held in flight `delayMs` per request: it answers each field for whoever the
 * gateway says is calling (`x-gateway-subject`), so an answer shared across callers would show.
 */
async function startBackend(delayMs: number) {
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  /** When set, answers wait for it instead of the delay: a test holds the call in flight. */
  let hold: Promise<unknown> | undefined;
  /** Emits `request` as each request arrives, before its delay: "in flight" can be awaited. */
  const events = new EventEmitter<{ request: [] }>();
  let bumps = 0;
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    received.push({ headers: req.headers, body });
    events.emit('request');
    const { query, variables } = JSON.parse(body) as {
      query: string;
      variables?: Record<string, unknown>;
    };
    await (hold ?? new Promise((resolve) => setTimeout(resolve, delayMs)));
    if (query.includes('fail')) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('overloaded');
      return;
    }
    const subject = req.headers['x-gateway-subject'] ?? 'anonymous';
    const data: Record<string, unknown> = {};
    if (query.includes('me')) data.me = `the data of ${String(subject)}`;
    if (query.includes('echo')) data.echo = String(variables?.v);
    if (query.includes('bump')) data.bump = ++bumps;
    const payload = JSON.stringify({ data });
    res.writeHead(200, { 'content-type': 'application/json' }).end(payload);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    received,
    events,
    /** Holds every answer until `until` settles (undefined: the delay again). */
    holdUntil: (until: Promise<unknown> | undefined) => {
      hold = until;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The gateway over one subgraph `s`, with more of supergraph.yaml (`subgraph` is merged into s's). */
async function startOver(
  backendUrl: string,
  extra: { top?: Record<string, unknown>; subgraph?: Record<string, unknown> } = {},
) {
  const dir = await mkdtemp(join(tmpdir(), 'gateway-dedup-'));
  await writeFile(join(dir, 's.graphql'), SDL);
  const config = {
    federation_version: '=2.3.0',
    subgraphs: {
      s: { routing_url: backendUrl, schema: { file: './s.graphql' }, ...extra.subgraph },
    },
    ...extra.top,
  };
  await writeFile(join(dir, 'supergraph.yaml'), stringify(config));
  const gateway = await startTestGateway({
    configFile: join(dir, 'supergraph.yaml'),
    stages: withTestIdentity(),
  });
  return {
    gateway,
    close: async () => {
      await gateway.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const ME = { query: '{ me }' };

describe('in-flight deduplication through the gateway', () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let running: Awaited<ReturnType<typeof startOver>> | undefined;
  let gateway: TestGateway;

  before(async () => {
    // Long enough for ten requests sent together to all arrive while the first is held.
    backend = await startBackend(150);
  });
  after(() => backend.close());
  afterEach(async () => {
    await running?.close();
    running = undefined;
    backend.received.length = 0;
  });

  async function over(extra?: Parameters<typeof startOver>[1]) {
    running = await startOver(backend.url, extra);
    gateway = running.gateway;
  }

  const ask = (body: unknown, headers: Record<string, string> = {}) =>
    post(gateway.url, body, headers);

  test('ten concurrent identical queries make one backend fetch, and all get the answer', async () => {
    await over();
    // The backend answers once the other nine have joined the call in flight, however slowly
    // a loaded machine delivers them (and at the latest after 5 s, when the count below fails).
    let joins = 0;
    const allJoined = new Promise<void>((resolve) => {
      const onJoin = () => {
        if (++joins < 9) return;
        channels.dedup.unsubscribe(onJoin);
        resolve();
      };
      channels.dedup.subscribe(onJoin);
      setTimeout(resolve, 5_000).unref();
    });
    backend.holdUntil(allJoined);
    const caller = asCaller({ subject: 'ada' });
    const answers = await Promise.all(Array.from({ length: 10 }, () => ask(ME, caller)));
    backend.holdUntil(undefined);
    for (const answer of answers) {
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.json, { data: { me: 'the data of ada' } });
    }
    assert.equal(backend.received.length, 1);
  });

  test('dedup: two users with different identities, same query, concurrently, each gets only their own data', async () => {
    await over();
    const users = ['ada', 'bob', 'ada', 'bob', 'ada', 'bob'];
    const answers = await Promise.all(users.map((subject) => ask(ME, asCaller({ subject }))));
    answers.forEach((answer, i) =>
      assert.deepEqual(answer.json, { data: { me: `the data of ${users[i]}` } }),
    );
    // One fetch per identity: ada's three share one, bob's three another.
    assert.deepEqual(backend.received.map((r) => r.headers['x-gateway-subject']).sort(), [
      'ada',
      'bob',
    ]);
  });

  test('the proof is not in the key: an HMAC proof (timestamped per second) still lets identical callers share', async () => {
    await over({
      top: {
        auth: { identity: { proof: { mode: 'hmac', secret: 'a-test-secret-of-32-characters!!' } } },
      },
    });
    const users = ['ada', 'ada', 'ada', 'bob'];
    const answers = await Promise.all(users.map((subject) => ask(ME, asCaller({ subject }))));
    answers.forEach((answer, i) =>
      assert.deepEqual(answer.json, { data: { me: `the data of ${users[i]}` } }),
    );
    assert.equal(backend.received.length, 2);
    for (const { headers } of backend.received)
      assert.match(String(headers['x-gateway-proof']), /^t=\d+,v1=/);
  });

  test('callers differing only in scopes share nothing: the scopes travel to the backend', async () => {
    await over();
    await Promise.all([
      ask(ME, asCaller({ subject: 'ada', scopes: ['read'] })),
      ask(ME, asCaller({ subject: 'ada', scopes: ['read', 'admin'] })),
    ]);
    assert.equal(backend.received.length, 2);
  });

  test('the same query with different variables is not deduplicated', async () => {
    await over();
    const query = 'query Echo($v: String) { echo(v: $v) }';
    const [one, two] = await Promise.all([
      ask({ query, variables: { v: 'one' } }),
      ask({ query, variables: { v: 'two' } }),
    ]);
    assert.deepEqual([one.json.data.echo, two.json.data.echo], ['one', 'two']);
    assert.equal(backend.received.length, 2);
  });

  test('mutations are never deduplicated', async () => {
    await over();
    const answers = await Promise.all([1, 2, 3].map(() => ask({ query: 'mutation { bump }' })));
    assert.deepEqual(answers.map((a) => a.json.data.bump).sort(), [1, 2, 3]);
    assert.equal(backend.received.length, 3);
  });

  test('a forwarded header that differs keeps calls apart; the same value shares', async () => {
    await over({ subgraph: { forward_headers: ['x-tenant'] } });
    await Promise.all([
      ask(ME, { 'x-tenant': 'north' }),
      ask(ME, { 'x-tenant': 'south' }),
      ask(ME, { 'x-tenant': 'south' }),
    ]);
    assert.deepEqual(backend.received.map((r) => r.headers['x-tenant']).sort(), ['north', 'south']);
  });

  test('the correlation id is not part of the key: the shared call carries the first one', async () => {
    await over();
    await Promise.all([
      ask(ME, { 'x-correlation-id': 'first-request' }),
      ask(ME, { 'x-correlation-id': 'second-request' }),
    ]);
    assert.equal(backend.received.length, 1);
  });

  test('the first caller leaving does not fail the callers that joined its call', async () => {
    await over();
    const leaving = new AbortController();
    const first = request(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ME),
      signal: leaving.signal,
    }).catch((error: unknown) => error);
    await once(backend.events, 'request');
    const joined = new Promise<void>((resolve) => {
      const onJoin = () => {
        channels.dedup.unsubscribe(onJoin);
        resolve();
      };
      channels.dedup.subscribe(onJoin);
    });
    const second = ask(ME);
    await joined;
    leaving.abort();
    assert.ok((await first) instanceof Error);
    assert.deepEqual((await second).json, { data: { me: 'the data of anonymous' } });
    assert.equal(backend.received.length, 1);
  });

  test('traffic.dedup.enabled: false makes every call', async () => {
    await over({ top: { traffic: { dedup: { enabled: false } } } });
    await Promise.all([1, 2, 3, 4].map(() => ask(ME)));
    assert.equal(backend.received.length, 4);
  });

  test('subgraphs.<name>.dedup overrides traffic.dedup for its calls', async () => {
    await over({ top: { traffic: { dedup: { enabled: false } } }, subgraph: { dedup: true } });
    await Promise.all([1, 2, 3, 4].map(() => ask(ME)));
    assert.equal(backend.received.length, 1);
  });

  test('a failing shared call fails every caller with its error', async () => {
    await over();
    const answers = await Promise.all([1, 2, 3].map(() => ask({ query: '{ fail }' })));
    // One shared call, tried three times (the backend answers 503: two retries), not one a caller.
    assert.equal(backend.received.length, 3);
    for (const answer of answers) {
      assert.equal(answer.json.data?.fail ?? null, null);
      assert.equal(answer.json.errors?.[0]?.extensions?.code, 'UPSTREAM_ERROR');
    }
  });

  test('deduplicated calls are counted per backend, and the log line lists only calls made', async () => {
    await over();
    await Promise.all([1, 2, 3].map(() => ask(ME)));
    const metrics = (await get(`${gateway.adminOrigin}/metrics`)).text;
    assert.match(
      metrics,
      /gateway_backend_calls_deduplicated_total\{backend="s",kind="subgraph"\} 2\n/,
    );
    const requestLines = () => gateway.logs.lines.filter((line) => line.msg === 'request');
    await gateway.logs.find(() => requestLines().length >= 3);
    const lines = requestLines();
    // One request made the call; the two others joined it.
    const made = lines.map((line) => (line.calls as unknown[]).length);
    const joined = lines.map((line) => (line.deduplicated as string[] | undefined)?.length ?? 0);
    assert.deepEqual(made.sort(), [0, 0, 1]);
    assert.deepEqual(joined.sort(), [0, 1, 1]);
  });
});

/**
 * The interceptor on its own, through a chain over a real HTTP server: deadlines and failures
 * of calls that share another, which the gateway's one request budget cannot set apart.
 */
describe('in-flight deduplication in the outbound chain', () => {
  let server: Server;
  let origin: string;
  let calls = 0;
  const dispatcher = new Agent();
  const outbound = createOutbound({ dispatcher, channels: new GrpcChannels() });

  before(async () => {
    server = createServer(async (req, res) => {
      for await (const _ of req);
      calls++;
      const delay = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('delay') ?? 0);
      await new Promise((resolve) => setTimeout(resolve, delay));
      res.writeHead(200, { 'content-type': 'application/json' }).end(`{"call":${calls}}`);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await dispatcher.close();
    server.closeAllConnections();
    server.close();
  });
  afterEach(() => {
    calls = 0;
  });

  const contextFor = chainContext;

  function call(ctx: RequestContext, path: string, idempotent = true): HttpCall {
    return {
      target: {
        backend: 'rest',
        kind: 'rest',
        operation: 'probe',
        protocol: 'http',
        address: origin.slice(7),
      },
      ctx,
      timeoutMs: 10_000,
      origin,
      path,
      method: 'GET',
      idempotent,
    };
  }

  const text = (ctx: RequestContext, path: string, idempotent?: boolean) =>
    outbound.http(call(ctx, path, idempotent), (answer) => answer.body.text());

  test('each caller reads its own copy of the shared answer', async () => {
    const answers = await Promise.all([1, 2, 3].map(() => text(contextFor(5_000), '/?delay=50')));
    assert.deepEqual(answers, ['{"call":1}', '{"call":1}', '{"call":1}']);
    assert.equal(calls, 1);
  });

  test('a call not marked idempotent is never shared', async () => {
    await Promise.all([1, 2].map(() => text(contextFor(5_000), '/?delay=50', false)));
    assert.equal(calls, 2);
  });

  test('a joined caller with a shorter deadline times out alone; the call goes on for the rest', async () => {
    const leader = text(contextFor(5_000), '/?delay=300');
    const short = text(contextFor(100), '/?delay=300');
    const later = text(contextFor(5_000), '/?delay=300');
    await assert.rejects(short, UpstreamTimeoutError);
    assert.equal(await leader, '{"call":1}');
    assert.equal(await later, '{"call":1}');
    assert.equal(calls, 1);
  });

  test('when the leading request’s own budget cuts the call, a joined caller with time left calls itself', async () => {
    const leader = text(contextFor(100), '/?delay=300');
    const patient = text(contextFor(5_000), '/?delay=300');
    await assert.rejects(leader, UpstreamTimeoutError);
    assert.equal(await patient, '{"call":2}');
    assert.equal(calls, 2);
  });
});
