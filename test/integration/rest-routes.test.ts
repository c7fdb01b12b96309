import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { stringify } from 'yaml';
import { get, post, startTestGateway, writeProject, type TestGateway } from '../helpers/env.ts';

/** A REST backend that answers with what it received, and can be told to be slow. */
async function startEchoBackend(name: string) {
  const received: IncomingMessage[] = [];
  const server: Server = createServer(async (req, res) => {
    received.push(req);
    let body = '';
    for await (const chunk of req) body += chunk;
    if (req.url?.startsWith('/slow')) await new Promise((resolve) => setTimeout(resolve, 1_000));
    const payload = JSON.stringify({
      backend: name,
      method: req.method,
      url: req.url,
      headers: req.headers,
      body,
    });
    res.writeHead(req.url?.includes('missing') ? 404 : 200, {
      'content-type': 'application/json',
      'x-backend': name,
      connection: 'keep-alive',
    });
    res.end(payload);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const STUB_SUBGRAPH = {
  stub: {
    routing_url: 'http://127.0.0.1:9/graphql',
    schema: { sdl: 'type Query { hello: String }' },
  },
};

describe('REST routes', () => {
  let v1: Awaited<ReturnType<typeof startEchoBackend>>;
  let v2: Awaited<ReturnType<typeof startEchoBackend>>;
  let canary: Awaited<ReturnType<typeof startEchoBackend>>;
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateway: TestGateway;
  let downUrl: string;

  before(async () => {
    [v1, v2, canary] = (await Promise.all(['v1', 'v2', 'canary'].map(startEchoBackend))) as [
      any,
      any,
      any,
    ];
    const down = await startEchoBackend('down');
    downUrl = down.url;
    await down.close();
    project = await writeProject([]);
    await project.write(
      'supergraph.yaml',
      stringify({
        subgraphs: STUB_SUBGRAPH,
        routes: [
          {
            name: 'things-v1',
            path_prefix: '/v1/things',
            rewrite_prefix: '/things',
            backends: [{ url: v1.url }],
          },
          {
            name: 'things-v2',
            path_prefix: '/v2/things',
            rewrite_prefix: '/',
            methods: ['GET', 'POST'],
            forward_headers: ['x-team'],
            timeout: '300ms',
            backends: [
              { url: `${v2.url}/base`, weight: 3 },
              { url: canary.url, weight: 1, when_headers: { 'x-canary': 'always' } },
            ],
            split_by: 'x-client-id',
          },
          { path_prefix: '/down', backends: [{ url: downUrl }] },
        ],
        server: { body_limit: 1024 },
      }),
    );
    gateway = await startTestGateway({ configFile: project.configFile });
  });

  after(async () => {
    await gateway.close();
    await Promise.all([v1.close(), v2.close(), canary.close()]);
    await project.remove();
  });

  test('a request is proxied with its prefix rewritten and its query kept', async () => {
    const result = await get(`${gateway.origin}/v1/things/7?expand=parts`);
    assert.equal(result.status, 200);
    assert.equal(result.json.backend, 'v1');
    assert.equal(result.json.url, '/things/7?expand=parts');
  });

  test('/v2 goes to another backend, under its base path, with the prefix stripped', async () => {
    const result = await get(`${gateway.origin}/v2/things/7`, { 'x-client-id': 'c-1' });
    assert.ok(['v2', 'canary'].includes(result.json.backend));
    if (result.json.backend === 'v2') assert.equal(result.json.url, '/base/7');
  });

  test('a body, its content type and the status and headers of the answer pass through', async () => {
    const result = await post(`${gateway.origin}/v1/things/missing`, { a: 1 });
    assert.equal(result.status, 404);
    assert.equal(result.headers['x-backend'], 'v1');
    assert.equal(result.json.method, 'POST');
    assert.equal(result.json.body, '{"a":1}');
    assert.equal(result.json.headers['content-type'], 'application/json');
  });

  test('client identity headers stay behind; the correlation id and forward_headers go through', async () => {
    const result = await get(`${gateway.origin}/v2/things/1`, {
      authorization: 'Bearer client-token',
      'x-user-id': 'admin',
      'x-team': 'blue',
      'x-correlation-id': 'route-corr-1',
      'x-canary': 'always',
    });
    const seen = result.json.headers;
    assert.equal(seen.authorization, undefined);
    assert.equal(seen['x-user-id'], undefined);
    assert.equal(seen['x-team'], 'blue');
    assert.equal(seen['x-correlation-id'], 'route-corr-1');
    assert.equal(seen['x-forwarded-for'], '127.0.0.1');
    assert.equal(result.headers['x-correlation-id'], 'route-corr-1');
  });

  test('the x-canary header sends every request to the canary', async () => {
    for (let i = 0; i < 5; i++) {
      const result = await get(`${gateway.origin}/v2/things/1`, {
        'x-canary': 'always',
        'x-client-id': `c${i}`,
      });
      assert.equal(result.json.backend, 'canary');
    }
  });

  // 1,000 clients at weights 3:1 -> 250 expected on the canary, standard deviation about 13.7;
  // ±60 is over four deviations. Each client is asked twice and must land on the same backend.
  test('the weighted split holds over 1,000 real requests and keeps each client on one backend', async () => {
    let onCanary = 0;
    const first = new Map<string, string>();
    for (let i = 0; i < 1000; i++) {
      const id = `client-${i}`;
      const result = await get(`${gateway.origin}/v2/things/1`, { 'x-client-id': id });
      first.set(id, result.json.backend);
      if (result.json.backend === 'canary') onCanary++;
    }
    assert.ok(Math.abs(onCanary - 250) <= 60, `canary got ${onCanary} of 1000`);
    for (const id of ['client-1', 'client-500', 'client-999']) {
      const again = await get(`${gateway.origin}/v2/things/1`, { 'x-client-id': id });
      assert.equal(again.json.backend, first.get(id));
    }
  });

  test('a method the route does not take answers 405 with Allow', async () => {
    const response = await request(`${gateway.origin}/v2/things/1`, { method: 'DELETE' });
    const body = (await response.body.json()) as any;
    assert.equal(response.statusCode, 405);
    assert.equal(response.headers.allow, 'GET, POST');
    assert.equal(body.details[0].reason, 'METHOD_NOT_ALLOWED');
  });

  test('an unknown path answers 404 JSON', async () => {
    const result = await get(`${gateway.origin}/v3/things`);
    assert.equal(result.status, 404);
    assert.equal(result.json.code, 5);
  });

  test('an oversize body answers 413 and never reaches the backend', async () => {
    const before = v1.received.length;
    const result = await post(`${gateway.origin}/v1/things`, { big: 'x'.repeat(2048) });
    assert.equal(result.status, 413);
    assert.equal(v1.received.length, before);
  });

  test('a backend that is down answers 503 with a Status body', async () => {
    const result = await get(`${gateway.origin}/down/x`);
    assert.equal(result.status, 503);
    assert.equal(result.json.code, 14);
    assert.equal(result.json.details[0].reason, 'UPSTREAM_UNAVAILABLE');
    assert.doesNotMatch(result.text, /127\.0\.0\.1/);
  });

  test('a backend slower than the route timeout answers 504', async () => {
    const result = await get(`${gateway.origin}/v2/things/slow`, { 'x-canary': 'always' });
    assert.equal(result.status, 504);
    assert.equal(result.json.code, 4);
  });
});

describe('REST routes and X-Forwarded-For', () => {
  /** A gateway over one echo route; `trusted` is `server.trusted_proxies`. */
  async function start(t: { after: (fn: () => Promise<void>) => void }, trusted: string[]) {
    const echo = await startEchoBackend('echo');
    const project = await writeProject([]);
    await project.write(
      'supergraph.yaml',
      stringify({
        subgraphs: STUB_SUBGRAPH,
        routes: [{ path_prefix: '/things', backends: [{ url: echo.url }] }],
      }),
    );
    const gateway = await startTestGateway({
      configFile: project.configFile,
      server: { trusted_proxies: trusted },
    });
    t.after(async () => {
      await gateway.close();
      await echo.close();
      await project.remove();
    });
    return gateway;
  }

  test('from a trusted proxy, the peer is appended to the list it forwarded', async (t) => {
    const gateway = await start(t, ['127.0.0.1']);
    const result = await get(`${gateway.origin}/things/1`, {
      'x-forwarded-for': '198.51.100.7, 203.0.113.2',
    });
    assert.equal(result.json.headers['x-forwarded-for'], '198.51.100.7, 203.0.113.2, 127.0.0.1');
  });

  test('from a peer no one trusts, the list is replaced by the peer', async (t) => {
    const gateway = await start(t, []);
    const result = await get(`${gateway.origin}/things/1`, { 'x-forwarded-for': '198.51.100.7' });
    assert.equal(result.json.headers['x-forwarded-for'], '127.0.0.1');
  });
});

describe('REST routes and hot reload', () => {
  test('a changed route applies to the next request after the reload; a broken one keeps the last good routes', async (t) => {
    const [first, second] = await Promise.all(['first', 'second'].map(startEchoBackend));
    const project = await writeProject([]);
    const config = (url: string, extra: object = {}) =>
      stringify({
        subgraphs: STUB_SUBGRAPH,
        routes: [{ path_prefix: '/things', backends: [{ url, ...extra }] }],
      });
    await project.write('supergraph.yaml', config(first!.url));
    const gateway = await startTestGateway({ configFile: project.configFile });
    t.after(async () => {
      await gateway.close();
      await Promise.all([first!.close(), second!.close()]);
      await project.remove();
    });
    const reloaded = () =>
      once(gateway.running.app.manager, 'reload').then(([outcome]) => outcome as { ok: boolean });
    assert.equal((await get(`${gateway.origin}/things/1`)).json.backend, 'first');

    let next = reloaded();
    await project.write('supergraph.yaml', config(second!.url));
    assert.equal((await next).ok, true);
    assert.equal((await get(`${gateway.origin}/things/1`)).json.backend, 'second');

    next = reloaded();
    await project.write('supergraph.yaml', config(first!.url, { weight: -1 }));
    assert.equal((await next).ok, false);
    assert.equal((await get(`${gateway.origin}/things/1`)).json.backend, 'second');
    const metrics = (await get(`${gateway.adminOrigin}/metrics`)).text;
    assert.match(metrics, /gateway_supergraph_reloads_total\{outcome="success"\} 1/);
    assert.match(metrics, /gateway_supergraph_reloads_total\{outcome="failure"\} 1/);
  });
});
