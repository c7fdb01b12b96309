import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { request } from 'undici';
import { accounts } from '../fixtures/graphs/shop.ts';
import {
  post,
  startSubgraphs,
  startTestGateway,
  writeProject,
  type TestGateway,
} from '../helpers/env.ts';
import type { SubgraphServer } from '../helpers/subgraph-server.ts';

/**
 * The HTTP limits as a client meets them: each refused just above its limit and served at it,
 * with the gateway's error body, code and correlation id, and no backend call. The 413 tests
 * send with raw sockets, at once and slowly, because what they check is that the client gets
 * to read the answer while it is still sending.
 */

const BODY_LIMIT = 65_536;
const LIMITS = { max_headers: 20, max_header_size: 2_048, max_url_length: 1_024 };
const QUERY = '{ me { id } }';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  json: any;
  /** A socket error the client met after (or instead of) reading the answer. */
  error?: string;
}

interface RawRequest {
  method?: string;
  target?: string;
  headers?: [string, string][];
  body?: Buffer;
  /** Send the body 16 KiB at a time, one event-loop turn apart, until the server closes. */
  slowly?: boolean;
}

describe('HTTP limits', () => {
  let subgraphs: Awaited<ReturnType<typeof startSubgraphs>>;
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateway: TestGateway;
  let backend: SubgraphServer;
  let port: number;

  before(async () => {
    subgraphs = await startSubgraphs([accounts]);
    backend = subgraphs.byName('accounts');
    project = await writeProject(subgraphs.servers, {
      server: { body_limit: BODY_LIMIT },
      limits: { http: LIMITS },
    });
    gateway = await startTestGateway({ configFile: project.configFile });
    port = Number(new URL(gateway.origin).port);
  });

  after(async () => {
    await gateway.close();
    await subgraphs.close();
    await project.remove();
  });

  /**
   * Sends one request over a fresh connection and reads the answer until the server closes.
   * Like curl and blocking clients, it reads nothing before it has sent its whole body: a server
   * that closes on a client still sending resets the connection, and that client never reads
   * the answer waiting for it (what happened to slow senders before lingering close).
   */
  function send(req: RawRequest): Promise<RawAnswer> {
    const { method = 'POST', target = '/graphql', headers = [], body } = req;
    const head =
      `${method} ${target} HTTP/1.1\r\n` +
      headers.map(([name, value]) => `${name}: ${value}\r\n`).join('') +
      '\r\n';
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      const received: Buffer[] = [];
      let error: string | undefined;
      socket.on('data', (chunk) => received.push(chunk));
      socket.pause();
      socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code));
      socket.on('close', () => {
        const text = Buffer.concat(received).toString('latin1');
        const at = text.indexOf('\r\n\r\n');
        if (at === -1) return reject(new Error(`no answer (socket error: ${error})`));
        const [statusLine = '', ...lines] = text.slice(0, at).split('\r\n');
        const answerHeaders = Object.fromEntries(
          lines.map((line) => {
            const colon = line.indexOf(':');
            return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
          }),
        );
        const length = Number(answerHeaders['content-length']);
        const bodyText = text.slice(at + 4, at + 4 + length);
        assert.equal(Buffer.byteLength(bodyText, 'latin1'), length, 'the whole answer arrived');
        resolve({
          status: Number(statusLine.split(' ')[1]),
          headers: answerHeaders,
          json: JSON.parse(bodyText),
          ...(error ? { error } : {}),
        });
      });
      socket.write(head);
      if (!body) {
        socket.resume();
        return;
      }
      if (!req.slowly) {
        socket.write(body, () => socket.resume());
        return;
      }
      void (async () => {
        for (let at = 0; at < body.length && !socket.destroyed; at += 16_384) {
          socket.write(body.subarray(at, at + 16_384));
          await nextTurn();
        }
        socket.resume();
      })();
    });
  }

  const jsonHeaders = (body: Buffer): [string, string][] => [
    ['host', 'gateway'],
    ['content-type', 'application/json'],
    ['content-length', String(body.length)],
  ];

  /** A GraphQL request body of exactly `size` bytes. */
  function bodyOf(size: number): Buffer {
    const empty = JSON.stringify({ query: QUERY, variables: { pad: '' } });
    return Buffer.from(
      JSON.stringify({ query: QUERY, variables: { pad: 'x'.repeat(size - empty.length) } }),
    );
  }

  /** Chunked transfer coding of `body` in 8 KiB chunks, with its last chunk. */
  function chunked(body: Buffer): Buffer {
    const parts: Buffer[] = [];
    for (let at = 0; at < body.length; at += 8_192) {
      const piece = body.subarray(at, at + 8_192);
      parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
    }
    parts.push(Buffer.from('0\r\n\r\n'));
    return Buffer.concat(parts);
  }

  function assertRefused(answer: RawAnswer, status: number, code: string) {
    assert.equal(answer.status, status, JSON.stringify(answer.json));
    assert.equal(answer.json.errors[0].extensions.code, code);
    assert.match(answer.headers['x-correlation-id'] ?? '', /^[0-9a-f-]{36}$/);
  }

  /** Runs `act` and checks that the backend was not called meanwhile. */
  async function withoutBackend<T>(act: () => Promise<T>): Promise<T> {
    const before = backend.received.length;
    const result = await act();
    assert.equal(backend.received.length, before, 'no backend call');
    return result;
  }

  const big = bodyOf(3 * 1_048_576);

  for (const slowly of [false, true]) {
    const how = slowly ? 'slowly' : 'at once';
    test(`a body over the limit announced by Content-Length gets its 413 when sent ${how}`, async () => {
      const answer = await withoutBackend(() =>
        send({ headers: jsonHeaders(big), body: big, slowly }),
      );
      assertRefused(answer, 413, 'PAYLOAD_TOO_LARGE');
      assert.equal(answer.error, undefined, 'no socket error');
      assert.match(answer.json.errors[0].message, /larger than the limit of 65536 bytes/);
      assert.equal(answer.headers.connection, 'close');
    });

    test(`a chunked body that grows past the limit gets its 413 when sent ${how}`, async () => {
      const answer = await withoutBackend(() =>
        send({
          headers: [
            ['host', 'gateway'],
            ['content-type', 'application/json'],
            ['transfer-encoding', 'chunked'],
          ],
          body: chunked(big),
          slowly,
        }),
      );
      assertRefused(answer, 413, 'PAYLOAD_TOO_LARGE');
      assert.equal(answer.error, undefined, 'no socket error');
      assert.equal(answer.headers.connection, 'close');
    });
  }

  test('undici sending a large body at once reads the 413 and its body', async () => {
    const answer = await withoutBackend(() =>
      request(gateway.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: big,
      }),
    );
    assert.equal(answer.statusCode, 413);
    const json = (await answer.body.json()) as any;
    assert.equal(json.errors[0].extensions.code, 'PAYLOAD_TOO_LARGE');
  });

  test('a body of exactly the limit is served; one byte more is 413', async () => {
    const at = bodyOf(BODY_LIMIT);
    assert.equal(at.length, BODY_LIMIT);
    const served = await send({ headers: [...jsonHeaders(at), ['connection', 'close']], body: at });
    assert.equal(served.status, 200, JSON.stringify(served.json));
    assert.deepEqual(served.json, { data: { me: { id: 'u1' } } });
    const over = bodyOf(BODY_LIMIT + 1);
    assertRefused(
      await withoutBackend(() => send({ headers: jsonHeaders(over), body: over })),
      413,
      'PAYLOAD_TOO_LARGE',
    );
  });

  /** A POST of `QUERY` with `extra` filler headers after the four it always has. */
  function withHeaders(extra: [string, string][], target = '/graphql'): RawRequest {
    const body = Buffer.from(JSON.stringify({ query: QUERY }));
    return {
      target,
      headers: [...jsonHeaders(body), ['connection', 'close'], ...extra],
      body,
    };
  }
  const fillers = (n: number): [string, string][] =>
    Array.from({ length: n }, (_, i) => [`x-filler-${i}`, 'v']);

  test('max_headers: a request with that many headers is served, one more is 431', async () => {
    // host, content-type, content-length and connection are four of the 20.
    const served = await send(withHeaders(fillers(LIMITS.max_headers - 4)));
    assert.deepEqual(served.json, { data: { me: { id: 'u1' } } });
    const refused = await withoutBackend(() => send(withHeaders(fillers(LIMITS.max_headers - 3))));
    assertRefused(refused, 431, 'REQUEST_HEADER_FIELDS_TOO_LARGE');
    assert.equal(refused.json.errors[0].extensions.limit, 'max_headers');
    const line = await gateway.logs.find(
      (l) => l.code === 'REQUEST_HEADER_FIELDS_TOO_LARGE' && l.correlationId !== undefined,
    );
    assert.equal(line.level, 30, 'logged at info');
    assert.equal(line.correlationId, refused.headers['x-correlation-id']);
  });

  test('hundreds of headers are refused, never served truncated', async () => {
    const refused = await withoutBackend(() => send(withHeaders(fillers(500))));
    assertRefused(refused, 431, 'REQUEST_HEADER_FIELDS_TOO_LARGE');
  });

  test('max_header_size: headers of exactly that size are served, one byte more is 431', async () => {
    const base = withHeaders([]);
    // Each header field is `name: value\r\n`: its name, its value and 4 bytes.
    const used = (base.headers ?? []).reduce((n, [k, v]) => n + k.length + v.length + 4, 0);
    const pad = (size: number): [string, string][] => [['x-pad', 'p'.repeat(size - used - 9)]];
    const served = await send(withHeaders(pad(LIMITS.max_header_size)));
    assert.deepEqual(served.json, { data: { me: { id: 'u1' } } });
    const refused = await withoutBackend(() => send(withHeaders(pad(LIMITS.max_header_size + 1))));
    assertRefused(refused, 431, 'REQUEST_HEADER_FIELDS_TOO_LARGE');
    assert.equal(refused.json.errors[0].extensions.limit, 'max_header_size');
  });

  test('max_url_length: a URL of exactly that length is served, one byte more is 414', async () => {
    const target = (length: number) =>
      `/graphql?pad=${'u'.repeat(length - '/graphql?pad='.length)}`;
    const served = await send(withHeaders([], target(LIMITS.max_url_length)));
    assert.deepEqual(served.json, { data: { me: { id: 'u1' } } });
    const refused = await withoutBackend(() =>
      send(withHeaders([], target(LIMITS.max_url_length + 1))),
    );
    assertRefused(refused, 414, 'URI_TOO_LONG');
  });

  test('headers far over the limit are refused by the parser with the gateway’s GraphQL answer', async () => {
    const refused = await withoutBackend(() =>
      send(withHeaders([['x-huge', 'h'.repeat(64 * 1_024)]])),
    );
    assertRefused(refused, 431, 'REQUEST_HEADER_FIELDS_TOO_LARGE');
    const line = await gateway.logs.find(
      (l) => l.correlationId === refused.headers['x-correlation-id'],
    );
    assert.equal(line.level, 30, 'logged at info');
    assert.equal(line.code, 'REQUEST_HEADER_FIELDS_TOO_LARGE');
  });

  test('a URL far over the limit is refused by the parser with 414', async () => {
    const refused = await withoutBackend(() =>
      send(withHeaders([], `/graphql?pad=${'u'.repeat(64 * 1_024)}`)),
    );
    assertRefused(refused, 414, 'URI_TOO_LONG');
  });

  test('REST paths and the probes answer the same refusals as google.rpc.Status', async () => {
    for (const target of ['/healthz', '/api/nothing-here', '/healthz?pad=1']) {
      for (const extra of [
        fillers(30),
        [['x-huge', 'h'.repeat(64 * 1_024)]] as [string, string][],
      ]) {
        const refused = await send({
          method: 'GET',
          target,
          headers: [['host', 'gateway'], ['connection', 'close'], ...extra],
        });
        assert.equal(refused.status, 431, `${target}: ${JSON.stringify(refused.json)}`);
        assert.equal(refused.json.code, 8);
        assert.equal(refused.json.details[0].reason, 'REQUEST_HEADER_FIELDS_TOO_LARGE');
        assert.equal(
          refused.json.details[0].metadata.correlationId,
          refused.headers['x-correlation-id'],
        );
      }
    }
  });

  test('a batch (a JSON array body) is refused with BATCHING_NOT_ENABLED before any backend call', async () => {
    for (const accept of ['application/json', 'application/graphql-response+json']) {
      const refused = await withoutBackend(() =>
        post(gateway.url, [{ query: QUERY }, { query: QUERY }], { accept }),
      );
      assert.equal(refused.status, 400, accept);
      assert.equal(refused.json.data, undefined);
      assert.equal(refused.json.errors[0].extensions.code, 'BATCHING_NOT_ENABLED');
      assert.match(refused.json.errors[0].message, /not accepted \(this body has 2\)/);
    }
  });

  test('after every refusal the gateway still serves', async () => {
    const res = await post(gateway.url, { query: QUERY });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { data: { me: { id: 'u1' } } });
  });
});
