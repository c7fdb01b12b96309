import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { Agent } from 'undici';
import { GrpcChannels } from '../../src/adapters/grpc/channels.ts';
import { UpstreamError } from '../../src/kernel/errors.ts';
import type { BackendTarget, GrpcCall, HttpCall, Outbound } from '../../src/kernel/outbound.ts';
import { Upstreams } from '../../src/policies/traffic/upstream-registry.ts';
import { upstreamSpec } from '../helpers/upstreams.ts';
import { createOutbound } from '../../src/policies/traffic/chain.ts';
import { chainContext } from '../helpers/context.ts';

/**
 * The outbound chain against real loopback servers, with outlier detection that ejects on the
 * first failure and no retries: what counts against a backend is the backend's failure, never an answer that says
 * no, and never a deadline the gateway cut. The chain is the same for every kind of backend
 * (subgraph, REST adapter, gRPC adapter, route, transcoded call, the gRPC port's REST call);
 * the tables run both transports.
 */

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const parse = (bytes: Buffer) => JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;

/** HTTP: answers the status named in the path (`/status/409`), after `?delay=` ms. */
async function startHttp() {
  const seen: IncomingHttpHeaders[] = [];
  const server: Server = createServer(async (req, res) => {
    for await (const _ of req);
    seen.push(req.headers);
    const url = new URL(req.url ?? '/', 'http://x');
    const delay = Number(url.searchParams.get('delay') ?? 0);
    if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
    const status = Number(url.pathname.split('/')[2] ?? 200);
    if (url.pathname === '/garbage') {
      res.writeHead(200, { 'content-type': 'text/html' });
      return res.end('<html>');
    }
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, seen, address: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** gRPC: `/test.Probe/Call` fails with the status the request names, or echoes; Stream sends `count`. */
async function startGrpc() {
  const server = new grpc.Server();
  const method = (path: string, responseStream: boolean) => ({
    path,
    requestStream: false,
    responseStream,
    requestSerialize: json,
    requestDeserialize: parse,
    responseSerialize: json,
    responseDeserialize: parse,
  });
  server.addService(
    { Call: method('/test.Probe/Call', false), Stream: method('/test.Probe/Stream', true) },
    {
      Call(
        call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) {
        const code = Number(call.request.code ?? 0);
        const delay = Number(call.request.delay ?? 0);
        setTimeout(() => {
          if (code === 0) callback(null, { ok: true });
          else callback({ code, details: `status ${code}` });
        }, delay);
      },
      Stream(call: grpc.ServerWritableStream<Record<string, unknown>, unknown>) {
        let i = 0;
        const timer = setInterval(() => {
          if (call.cancelled || i >= Number(call.request.count ?? 3)) {
            clearInterval(timer);
            if (!call.cancelled) call.end();
            return;
          }
          call.write({ i: i++ });
        }, 5);
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return { server, address: `127.0.0.1:${port}` };
}

describe('the outbound chain', () => {
  let http: Awaited<ReturnType<typeof startHttp>>;
  let rpc: Awaited<ReturnType<typeof startGrpc>>;
  const dispatcher = new Agent();
  const channels = new GrpcChannels();
  const upstreams = new Upstreams({ clock: { now: () => 0 } });
  let outbound: Outbound;
  let endpoints = 0;

  before(async () => {
    http = await startHttp();
    rpc = await startGrpc();
    outbound = createOutbound({ dispatcher, channels, upstreams });
  });

  after(async () => {
    channels.close();
    await dispatcher.close();
    rpc.server.forceShutdown();
    http.server.closeAllConnections();
    http.server.close();
  });

  const contextFor = chainContext;

  const strict = {
    outlier: { consecutive_failures: 1, base_ejection_time: 60_000, max_ejection_percent: 100 },
    retries: { enabled: false },
  };

  /** Each row starts with fresh records: one failure ejects the backend's one instance. */
  function target(protocol: 'http' | 'grpc', address: string): BackendTarget {
    upstreams.follow([]);
    upstreams.follow([
      upstreamSpec(`http://${http.address}`, strict),
      upstreamSpec(rpc.address, strict),
    ]);
    return { backend: `b${++endpoints}`, kind: 'rest', operation: 'probe', protocol, address };
  }

  function httpCall(path: string, extra: Partial<HttpCall> = {}): HttpCall {
    return {
      target: target('http', http.address),
      ctx: contextFor(),
      timeoutMs: 5_000,
      origin: `http://${http.address}`,
      path,
      method: 'GET',
      ...extra,
    };
  }

  function grpcCall(message: object, extra: Partial<GrpcCall> = {}): GrpcCall {
    return {
      target: target('grpc', rpc.address),
      ctx: contextFor(),
      timeoutMs: 5_000,
      address: rpc.address,
      path: '/test.Probe/Call',
      serialize: json,
      deserialize: parse,
      message,
      ...extra,
    };
  }

  /** Reads like the REST adapter: a non-2xx is an error for the field, a 2xx must be JSON. */
  const readLikeAdapter = async (answer: {
    status: number;
    headers: IncomingHttpHeaders;
    body: { text(): Promise<string> };
  }) => {
    const text = await answer.body.text();
    if (answer.status >= 300) throw new UpstreamError('b', `answered HTTP ${answer.status}`);
    if (!String(answer.headers['content-type']).startsWith('application/json'))
      throw new UpstreamError('b', 'answered with something other than JSON');
    return JSON.parse(text) as unknown;
  };

  const opened = (call: { target: BackendTarget }) =>
    Object.values(upstreams.describe()).find(
      (u) => u.key === (call.target.protocol === 'http' ? `http://${http.address}` : rpc.address),
    )?.instances[0]?.state === 'ejected';

  // [HTTP status, the backend failed?]: a 4xx is an answer; a 5xx is the backend's failure.
  const HTTP: [number, boolean][] = [
    [400, false],
    [404, false],
    [405, false],
    [409, false],
    [410, false],
    [412, false],
    [429, false],
    [500, true],
    [502, true],
    [503, true],
  ];
  for (const [status, failed] of HTTP) {
    test(`an HTTP ${status} ${failed ? 'opens' : 'leaves closed'} the backend's circuit`, async () => {
      const call = httpCall(`/status/${status}`);
      await assert.rejects(outbound.http(call, readLikeAdapter));
      assert.equal(opened(call), failed);
    });
  }

  test('a 2xx the call site cannot use (not JSON) is the backend failing', async () => {
    const call = httpCall('/garbage');
    await assert.rejects(outbound.http(call, readLikeAdapter));
    assert.equal(opened(call), true);
  });

  test('a backend that cannot be reached is failing', async () => {
    const call = { ...httpCall('/status/200'), origin: 'http://127.0.0.1:1' };
    upstreams.follow([upstreamSpec(call.origin, strict)]);
    await assert.rejects(outbound.http(call, readLikeAdapter), { code: 'UPSTREAM_UNAVAILABLE' });
    assert.equal(upstreams.describe()['127.0.0.1:1']?.instances[0]?.state, 'ejected');
  });

  test('a backend slower than its own timeout is failing', async () => {
    const call = httpCall('/status/200?delay=300', { timeoutMs: 50 });
    await assert.rejects(outbound.http(call, readLikeAdapter), { code: 'GATEWAY_TIMEOUT' });
    assert.equal(opened(call), true);
  });

  test('a call cut by the request’s own budget does not count against the backend', async () => {
    const call = httpCall('/status/200?delay=300', { ctx: contextFor(50) });
    await assert.rejects(outbound.http(call, readLikeAdapter), { code: 'GATEWAY_TIMEOUT' });
    assert.equal(opened(call), false);
  });

  test('a request with no budget left makes no call at all', async () => {
    const before = http.seen.length;
    const call = httpCall('/status/200', { ctx: contextFor(0) });
    await assert.rejects(outbound.http(call, readLikeAdapter), { code: 'GATEWAY_TIMEOUT' });
    assert.equal(http.seen.length, before);
    assert.equal(opened(call), false);
  });

  // [gRPC status, the backend failed?]: statuses code.proto maps to a 5xx are failures.
  const GRPC: [keyof typeof grpc.status, boolean][] = [
    ['INVALID_ARGUMENT', false],
    ['NOT_FOUND', false],
    ['ALREADY_EXISTS', false],
    ['PERMISSION_DENIED', false],
    ['RESOURCE_EXHAUSTED', false],
    ['FAILED_PRECONDITION', false],
    ['ABORTED', false],
    ['OUT_OF_RANGE', false],
    ['UNAUTHENTICATED', false],
    ['CANCELLED', false],
    ['UNKNOWN', true],
    ['INTERNAL', true],
    ['UNAVAILABLE', true],
    ['DATA_LOSS', true],
    ['UNIMPLEMENTED', true],
  ];
  for (const [name, failed] of GRPC) {
    test(`gRPC ${name} ${failed ? 'opens' : 'leaves closed'} the backend's circuit`, async () => {
      const call = grpcCall({ code: grpc.status[name] });
      await assert.rejects(
        outbound.grpcUnary(call, (a) => a.message),
        { code: grpc.status[name] },
      );
      assert.equal(opened(call), failed);
    });
  }

  test('a gRPC deadline the request’s budget cut does not count; the backend’s own does', async () => {
    const cut = grpcCall({ delay: 300 }, { ctx: contextFor(50) });
    await assert.rejects(
      outbound.grpcUnary(cut, (a) => a.message),
      {
        code: grpc.status.DEADLINE_EXCEEDED,
      },
    );
    assert.equal(opened(cut), false);
    const own = grpcCall({ delay: 300 }, { timeoutMs: 50 });
    await assert.rejects(
      outbound.grpcUnary(own, (a) => a.message),
      {
        code: grpc.status.DEADLINE_EXCEEDED,
      },
    );
    assert.equal(opened(own), true);
  });

  test('a stream the client leaves is cancelled without counting against the backend', async () => {
    const left = new AbortController();
    const call = grpcCall({ count: 1000 }, { path: '/test.Probe/Stream' });
    const got: unknown[] = [];
    await outbound.grpcStream(
      call,
      {
        onMessage(message) {
          got.push(message);
          if (got.length === 2) left.abort();
        },
      },
      left.signal,
    );
    assert.ok(got.length >= 2);
    assert.equal(opened(call), false);
  });

  test('an open circuit refuses the next call without making it', async () => {
    const call = httpCall('/status/503');
    await assert.rejects(outbound.http(call, readLikeAdapter));
    const before = http.seen.length;
    await assert.rejects(outbound.http({ ...call, path: '/status/200' }, readLikeAdapter), {
      code: 'UPSTREAM_CIRCUIT_OPEN',
    });
    assert.equal(http.seen.length, before);
  });

  test('headers: forwarded by name, then static, then the call’s own, then the stages’', async () => {
    const ctx = contextFor(30_000, {
      'x-tenant': 'acme',
      'x-secret': 'never',
      'proxy-authorization': 'Basic c2VjcmV0',
      'x-static': 'from-client',
    });
    ctx.upstreamHeaders['x-correlation-id'] = 'c-1';
    await outbound.http(
      httpCall('/status/200', {
        ctx,
        headers: {
          forward: ['x-tenant', 'proxy-authorization', 'x-static', 'x-correlation-id'],
          set: { 'x-static': 'from-config', 'x-own': 'from-config' },
        },
        ownHeaders: { 'x-own': 'from-call', 'x-correlation-id': 'from-call' },
      }),
      readLikeAdapter,
    );
    const seen = http.seen.at(-1)!;
    assert.equal(seen['x-tenant'], 'acme');
    assert.equal(seen['x-secret'], undefined);
    assert.equal(seen['proxy-authorization'], undefined);
    assert.equal(seen['x-static'], 'from-config');
    assert.equal(seen['x-own'], 'from-call');
    assert.equal(seen['x-correlation-id'], 'c-1');
  });
});
