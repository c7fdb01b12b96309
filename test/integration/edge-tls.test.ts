import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import * as http2 from 'node:http2';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { stringify } from 'yaml';
import { checkHealth } from '../../src/adapters/grpc/health.ts';
import { loadConfig } from '../../src/config/load.ts';
import { SHOP } from '../fixtures/graphs/shop.ts';
import {
  get,
  post,
  startGatewayOver,
  startTestGateway,
  writeProject,
  type GatewayOver,
} from '../helpers/env.ts';
import { makeCertificates } from '../helpers/tls.ts';
import { STUB_SUBGRAPHS } from '../helpers/config.ts';
import { grpcClient, portService, PROTOS } from '../helpers/auth-surfaces.ts';

type Certificates = Awaited<ReturnType<typeof makeCertificates>>;

const QUERY = JSON.stringify({ query: '{ me { id name } }' });
const ANSWER = { data: { me: { id: 'u1', name: 'Ada Lovelace' } } };

/** The `server.tls` of these tests, absolute paths (relative ones resolve the same way). */
function serverTls(certs: Certificates, more: object = {}) {
  return { cert: certs.certFile, key: certs.keyFile, ...more };
}

/** A GraphQL query over HTTP/1.1 (ALPN offers only http/1.1), with the protocol agreed. */
function postHttp1(url: string, options: ConnectionOptions) {
  return new Promise<{ status: number; json: any; alpn: string | false | null }>(
    (resolve, reject) => {
      const req = httpsRequest(
        url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          ...options,
          agent: false,
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              json: JSON.parse(text),
              alpn: (res.socket as TLSSocket).alpnProtocol,
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(QUERY);
    },
  );
}

/** A POST on an HTTP/2 session (by default the test query to /graphql): its status and JSON. */
function postH2(
  session: http2.ClientHttp2Session,
  path = '/graphql',
  headers: http2.OutgoingHttpHeaders = { 'content-type': 'application/json' },
  body: string | Buffer = QUERY,
) {
  return new Promise<{ status: number; json: any }>((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': path, ...headers });
    let status = 0;
    let text = '';
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
    stream.on('end', () => resolve({ status, json: JSON.parse(text) }));
    stream.on('error', reject);
    stream.end(body);
  });
}

async function connectH2(origin: string, options: http2.SecureClientSessionOptions = {}) {
  const session = http2.connect(origin, options);
  await once(session, 'connect');
  return session;
}

/** The certificate a new TLS handshake is served, and whether the handshake went through. */
function handshake(port: number, options: ConnectionOptions) {
  return new Promise<{ cert?: X509Certificate; error?: Error; alpn?: string | false }>(
    (resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ...options });
      socket.once('secureConnect', () => {
        const raw = socket.getPeerCertificate().raw;
        const alpn = socket.alpnProtocol ?? false;
        // TLS 1.3 refuses a missing client certificate after the handshake: wait for it.
        socket.once('error', (error) => resolve({ error }));
        socket.write('GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n');
        socket.once('data', () => {
          socket.destroy();
          resolve({ cert: new X509Certificate(raw), alpn });
        });
      });
      socket.once('error', (error) => resolve({ error }));
    },
  );
}

const portOf = (origin: string) => Number(new URL(origin).port);

describe('HTTPS and HTTP/2 at the edge', () => {
  let certs: Certificates;
  let env: GatewayOver;

  before(async () => {
    certs = await makeCertificates();
    env = await startGatewayOver(SHOP, { config: { server: { tls: serverTls(certs) } } });
  });
  after(() => env.close());

  test('a query over HTTPS with HTTP/1.1, for a client that offers only http/1.1 or no ALPN', async () => {
    assert.match(env.gateway.origin, /^https:\/\/127\.0\.0\.1:\d+$/);
    const offered = await handshake(portOf(env.gateway.origin), {
      ca: certs.ca,
      ALPNProtocols: ['http/1.1'],
    });
    assert.equal(offered.alpn, 'http/1.1');
    // Node's https client offers no ALPN at all: HTTP/1.1 too.
    const res = await postHttp1(env.gateway.url, { ca: certs.ca, servername: 'localhost' });
    assert.equal(res.alpn, false);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, ANSWER);
  });

  test('a query over HTTP/2, agreed by ALPN', async () => {
    const session = await connectH2(env.gateway.origin, { ca: certs.ca, servername: 'localhost' });
    try {
      assert.equal(session.alpnProtocol, 'h2');
      const res = await postH2(session);
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, ANSWER);
      // Streams share the connection.
      const again = await Promise.all([postH2(session), postH2(session)]);
      assert.deepEqual(
        again.map((r) => r.json),
        [ANSWER, ANSWER],
      );
    } finally {
      session.close();
    }
  });

  test('over HTTP/2 the limits answer as on HTTP/1.1, and the session goes on', async () => {
    const session = await connectH2(env.gateway.origin, { ca: certs.ca, servername: 'localhost' });
    try {
      const send = (headers: http2.OutgoingHttpHeaders, body: string | Buffer) =>
        postH2(session, '/graphql', headers, body);
      // Over the default body_limit (1 MiB): refused before it is read, without Connection.
      const big = await send(
        { 'content-type': 'application/json', 'content-length': 2 * 1_048_576 },
        Buffer.alloc(2 * 1_048_576, 0x20),
      ).catch((error: Error) => ({ status: 0, json: error.message }));
      assert.equal(big.status, 413, JSON.stringify(big.json));
      // 101 headers besides the pseudo-headers: over max_headers (100), whatever the version.
      const many: http2.OutgoingHttpHeaders = { 'content-type': 'application/json' };
      for (let i = 0; i < 100; i++) many[`x-h${i}`] = '1';
      const tooMany = await send(many, QUERY);
      assert.equal(tooMany.status, 431);
      assert.equal(tooMany.json.errors[0].extensions.code, 'REQUEST_HEADER_FIELDS_TOO_LARGE');
      // 100 headers are fine: the pseudo-headers do not count.
      delete many['x-h99'];
      assert.equal((await send(many, QUERY)).status, 200);
      assert.deepEqual((await postH2(session)).json, ANSWER);
    } finally {
      session.close();
    }
  });

  test('a client that does not trust the certificate is refused the handshake', async () => {
    const { error } = await handshake(portOf(env.gateway.origin), {});
    assert.match(String(error), /self.signed|unable to verify|certificate/i);
  });

  test('a replaced certificate is served to new connections; open ones keep going', async () => {
    const port = portOf(env.gateway.origin);
    const before = await handshake(port, { ca: certs.ca });
    const open = await connectH2(env.gateway.origin, { ca: certs.ca, servername: 'localhost' });
    try {
      const renewed = new X509Certificate(await certs.renewServer());
      await env.gateway.logs.find((l) => l.msg === 'TLS certificate reloaded', 5_000);
      const after = await handshake(port, { ca: certs.ca });
      assert.notEqual(before.cert?.serialNumber, renewed.serialNumber);
      assert.equal(after.cert?.serialNumber, renewed.serialNumber);
      assert.equal(after.cert?.fingerprint256, renewed.fingerprint256);
      // The connection opened before the reload was not dropped.
      const res = await postH2(open);
      assert.deepEqual(res.json, ANSWER);
    } finally {
      open.close();
    }
  });
});

describe('client certificates', () => {
  let certs: Certificates;
  let env: GatewayOver;

  before(async () => {
    certs = await makeCertificates();
    env = await startGatewayOver(SHOP, {
      config: {
        server: { tls: serverTls(certs, { ca: certs.caFile, client_certificates: 'required' }) },
      },
    });
  });
  after(() => env.close());

  test('required: a client without a certificate is refused, one with a valid one served', async () => {
    const port = portOf(env.gateway.origin);
    const without = await handshake(port, { ca: certs.ca });
    assert.ok(without.error, 'the handshake must fail');
    const res = await postHttp1(env.gateway.url, {
      ca: certs.ca,
      servername: 'localhost',
      cert: certs.clientCert,
      key: certs.clientKey,
    });
    assert.deepEqual(res.json, ANSWER);
    const session = await connectH2(env.gateway.origin, {
      ca: certs.ca,
      servername: 'localhost',
      cert: certs.clientCert,
      key: certs.clientKey,
    });
    try {
      assert.deepEqual((await postH2(session)).json, ANSWER);
    } finally {
      session.close();
    }
  });
});

describe('cleartext HTTP/2 (h2c)', () => {
  let env: GatewayOver;

  before(async () => {
    env = await startGatewayOver(SHOP, { config: { server: { h2c: true } } });
  });
  after(() => env.close());

  test('a client starting with HTTP/2 (prior knowledge) is served, and HTTP/1.1 still is', async () => {
    const session = await connectH2(env.gateway.origin);
    try {
      const res = await postH2(session);
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, ANSWER);
    } finally {
      session.close();
    }
    const plain = await post(env.gateway.url, JSON.parse(QUERY));
    assert.deepEqual(plain.json, ANSWER);
  });

  test('an HTTP/2 session with no stream open for keep_alive_timeout gets GOAWAY', async () => {
    const other = await startGatewayOver(SHOP, {
      config: { server: { h2c: true } },
      server: { keep_alive_timeout: 300 },
    });
    try {
      const session = await connectH2(other.gateway.origin);
      const started = Date.now();
      assert.deepEqual((await postH2(session)).json, ANSWER);
      await once(session, 'goaway');
      assert.ok(Date.now() - started >= 300);
      session.destroy();
    } finally {
      await other.close();
    }
  });

  test('shutdown sends GOAWAY to HTTP/2 sessions and drains', async () => {
    const other = await startGatewayOver(SHOP, { config: { server: { h2c: true } } });
    const session = await connectH2(other.gateway.origin);
    assert.deepEqual((await postH2(session)).json, ANSWER);
    const goaway = once(session, 'goaway');
    const drained = await other.gateway.running.shutdown();
    await goaway;
    assert.equal(drained, true);
    session.destroy();
    await other.subgraphs.close();
    await other.project.remove();
  });
});

/** A gateway whose gRPC port serves the users service (its backend never called) with `tls`. */
async function startGrpcPort(t: TestContext, tls: object) {
  const project = await writeProject([]);
  t.after(() => project.remove());
  await project.write(
    'supergraph.yaml',
    stringify({
      subgraphs: STUB_SUBGRAPHS,
      grpc_server: {
        port: 0,
        tls,
        services: {
          users: {
            protos: ['demo/users/v1/users.proto'],
            include_dirs: [join(import.meta.dirname, '../../protos')],
            base_url: 'http://127.0.0.1:9',
          },
        },
      },
    }),
  );
  const gateway = await startTestGateway({ configFile: project.configFile });
  t.after(() => gateway.close());
  // By name, as TLS servers are addressed (the certificate is for localhost).
  return {
    gateway,
    address: (gateway.running.grpcAddress as string).replace('127.0.0.1', 'localhost'),
  };
}

/**
 * Sends a request's first header line and never the rest: what a slowloris does. Resolves with
 * what the gateway answered before closing the connection.
 */
async function slowloris(socket: Socket): Promise<string> {
  socket.write('POST /graphql HTTP/1.1\r\nHost: localhost\r\n');
  let answer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (answer += chunk));
  socket.on('error', () => {});
  await once(socket, 'close');
  return answer;
}

describe('slow clients on the split ports', () => {
  // Without the cut the connection stays open: the timeout makes that a failure, not a hang.
  test(
    'a slowloris over HTTPS with HTTP/1.1 is cut at headers_timeout, as on plain HTTP',
    { timeout: 15_000 },
    async (t) => {
      const certs = await makeCertificates();
      const env = await startGatewayOver(SHOP, {
        config: { server: { tls: serverTls(certs), headers_timeout: '1s' } },
      });
      t.after(() => env.close());
      const socket = tlsConnect({
        port: portOf(env.gateway.origin),
        host: '127.0.0.1',
        servername: 'localhost',
        ca: certs.ca,
        ALPNProtocols: ['http/1.1'],
      });
      await once(socket, 'secureConnect');
      assert.equal(socket.alpnProtocol, 'http/1.1');
      assert.match(await slowloris(socket), /^HTTP\/1\.1 408 /);
    },
  );

  test(
    'a slowloris on an h2c port is cut at headers_timeout too',
    { timeout: 15_000 },
    async (t) => {
      const env = await startGatewayOver(SHOP, {
        config: { server: { h2c: true, headers_timeout: '1s' } },
      });
      t.after(() => env.close());
      const socket = netConnect(portOf(env.gateway.origin), '127.0.0.1');
      await once(socket, 'connect');
      assert.match(await slowloris(socket), /^HTTP\/1\.1 408 /);
    },
  );
});

describe('the gRPC port over TLS', () => {
  test('client certificates required: a client without one is refused, one with one served', async (t) => {
    const certs = await makeCertificates();
    const { address } = await startGrpcPort(t, {
      cert: certs.certFile,
      key: certs.keyFile,
      ca: certs.caFile,
      client_certificates: 'required',
    });
    const without = new grpc.Client(address, grpc.credentials.createSsl(certs.ca));
    const withCert = new grpc.Client(
      address,
      grpc.credentials.createSsl(certs.ca, certs.clientKey, certs.clientCert),
    );
    t.after(() => {
      without.close();
      withCert.close();
    });
    assert.equal(await checkHealth(withCert, '', 2_000), 'SERVING');
    assert.equal(await checkHealth(without, '', 2_000), 'UNREACHABLE');
  });

  test('a client trusting the CA is served, a plaintext client is not; a renewed certificate is served', async (t) => {
    const certs = await makeCertificates();
    const { gateway, address } = await startGrpcPort(t, {
      cert: certs.certFile,
      key: certs.keyFile,
    });
    const secure = new grpc.Client(address, grpc.credentials.createSsl(certs.ca));
    const plain = new grpc.Client(address, grpc.credentials.createInsecure());
    t.after(() => {
      secure.close();
      plain.close();
    });
    assert.equal(await checkHealth(secure, '', 2_000), 'SERVING');
    assert.equal(await checkHealth(plain, '', 2_000), 'UNREACHABLE');

    // A renewed certificate: new handshakes get it, the channel opened before keeps working.
    const renewed = new X509Certificate(await certs.renewServer());
    await gateway.logs.find(
      (l) => l.msg === 'TLS certificate reloaded' && l.key === 'grpc_server.tls',
      5_000,
    );
    const served = await new Promise<X509Certificate>((resolve, reject) => {
      const socket = tlsConnect({
        host: '127.0.0.1',
        port: Number(address.split(':')[1]),
        servername: 'localhost',
        ca: certs.ca,
        ALPNProtocols: ['h2'],
      });
      socket.once('secureConnect', () => {
        resolve(new X509Certificate(socket.getPeerCertificate().raw));
        socket.destroy();
      });
      socket.once('error', reject);
    });
    assert.equal(served.serialNumber, renewed.serialNumber);
    assert.equal(await checkHealth(secure, '', 2_000), 'SERVING');
  });
});

describe('TLS settings at load', () => {
  test('a missing certificate file is named with its key and line', async (t) => {
    const project = await writeProject([]);
    t.after(() => project.remove());
    await project.write('server.key', '-----BEGIN PRIVATE KEY-----\n');
    await project.write(
      'supergraph.yaml',
      [
        'subgraphs:',
        '  stub:',
        '    routing_url: http://127.0.0.1:9/graphql',
        '    schema: { sdl: "type Query { hello: String }" }',
        'server:',
        '  tls:',
        '    cert: ./missing.pem',
        '    key: ./server.key',
        'grpc_server:',
        '  tls: { cert: ./server.key, key: ./gone.key }',
        '',
      ].join('\n'),
    );
    await assert.rejects(loadConfig(project.configFile, {}), (error: Error) => {
      assert.match(
        error.message,
        /supergraph\.yaml:7:\d+: server\.tls\.cert: cannot read certificate \.\/missing\.pem \(ENOENT\)/,
      );
      assert.match(
        error.message,
        /supergraph\.yaml:10:\d+: grpc_server\.tls\.key: cannot read private key \.\/gone\.key/,
      );
      return true;
    });
  });

  test('backend TLS needs an https URL and one setting per origin', async (t) => {
    const project = await writeProject([]);
    t.after(() => project.remove());
    await project.write('ca.pem', '-----BEGIN CERTIFICATE-----\n');
    await project.write('other.pem', '-----BEGIN CERTIFICATE-----\n');
    const sdl = { sdl: 'type Query { hello: String }' };
    await project.write(
      'supergraph.yaml',
      stringify({
        subgraphs: {
          plain: { routing_url: 'http://a.internal/graphql', schema: sdl, tls: { ca: 'ca.pem' } },
          one: { routing_url: 'https://b.internal/graphql', schema: sdl, tls: { ca: 'ca.pem' } },
        },
        routes: [
          {
            path_prefix: '/b',
            backends: [{ url: 'https://b.internal/rest', tls: { ca: 'other.pem' } }],
          },
        ],
      }),
    );
    await assert.rejects(loadConfig(project.configFile, {}), (error: Error) => {
      assert.match(error.message, /subgraphs\.plain\.tls: TLS settings need an https URL/);
      assert.match(
        error.message,
        /routes\[0\]\.backends\[0\]\.tls: https:\/\/b\.internal has other TLS settings/,
      );
      return true;
    });
  });

  test('client certificates need a CA to verify them against', async (t) => {
    const project = await writeProject([]);
    t.after(() => project.remove());
    await project.write(
      'supergraph.yaml',
      stringify({
        subgraphs: {},
        server: { tls: { cert: 'a.pem', key: 'a.key', client_certificates: 'optional' } },
      }),
    );
    await assert.rejects(
      loadConfig(project.configFile, {}),
      /server\.tls\.ca: client certificates are verified against ca/,
    );
  });
});

/** An HTTPS backend with the test CA's certificate; `mtls` requires the gateway's client one. */
async function startHttpsBackend(certs: Certificates, body: object, mtls = false) {
  const seen: { clientCn?: string; host?: string; servername?: string | false; calls: number } = {
    calls: 0,
  };
  const server = createHttpsServer(
    {
      cert: certs.cert,
      key: certs.key,
      ...(mtls ? { ca: certs.ca, requestCert: true, rejectUnauthorized: true } : {}),
    },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      if (peer.subject) seen.clientCn = String(peer.subject.CN);
      seen.host = req.headers.host;
      seen.servername = (req.socket as TLSSocket).servername ?? undefined;
      seen.calls++;
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(body));
      });
    },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    // By name: the certificate is for localhost, and an IP is no TLS server name (RFC 6066).
    url: `https://localhost:${port}`,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('HTTPS backends', () => {
  test('a route backend requiring mutual TLS is reached with the private CA and the client certificate', async (t) => {
    const certs = await makeCertificates();
    const backend = await startHttpsBackend(certs, { ok: true }, true);
    t.after(() => backend.close());
    const project = await writeProject([]);
    t.after(() => project.remove());
    const route = (tls: object | undefined) =>
      stringify({
        subgraphs: STUB_SUBGRAPHS,
        routes: [
          { path_prefix: '/things', backends: [{ url: backend.url, ...(tls ? { tls } : {}) }] },
        ],
      });
    const answers: Record<string, number> = {};
    const configs = {
      mtls: { ca: certs.caFile, cert: certs.clientCertFile, key: certs.clientKeyFile },
      'ca only': { ca: certs.caFile },
      none: undefined,
    };
    for (const [name, tls] of Object.entries(configs)) {
      await project.write('supergraph.yaml', route(tls));
      const gateway = await startTestGateway({ configFile: project.configFile });
      try {
        answers[name] = (await get(`${gateway.origin}/things/1`)).status;
      } finally {
        await gateway.close();
      }
    }
    // Without the client certificate the backend resets the connection: unreachable, 503;
    // without the CA the gateway refuses the backend's certificate: a failed exchange, 502.
    assert.deepEqual(answers, { mtls: 200, 'ca only': 503, none: 502 });
    assert.equal(backend.seen.clientCn, 'gateway test client');
  });

  test('a subgraph over HTTPS with a private CA is fetched', async (t) => {
    const certs = await makeCertificates();
    const backend = await startHttpsBackend(certs, { data: { hello: 'over tls' } });
    t.after(() => backend.close());
    const project = await writeProject([]);
    t.after(() => project.remove());
    await project.write(
      'supergraph.yaml',
      stringify({
        subgraphs: {
          hello: {
            routing_url: `${backend.url}/graphql`,
            schema: { sdl: 'type Query { hello: String }' },
            tls: { ca: certs.caFile },
          },
        },
      }),
    );
    const gateway = await startTestGateway({ configFile: project.configFile });
    t.after(() => gateway.close());
    const res = await post(gateway.url, { query: '{ hello }' });
    assert.deepEqual(res.json, { data: { hello: 'over tls' } });
  });

  test('a gRPC-port service’s HTTPS backend is reached with its private CA', async (t) => {
    const certs = await makeCertificates();
    const backend = await startHttpsBackend(certs, { id: '1', name: 'Ada', email: 'a@x' });
    t.after(() => backend.close());
    const project = await writeProject([]);
    t.after(() => project.remove());
    const service = (tls: object | undefined) =>
      stringify({
        subgraphs: STUB_SUBGRAPHS,
        grpc_server: {
          port: 0,
          services: {
            users: {
              ...portService('demo/users/v1/users.proto', PROTOS, backend.url, 'none'),
              ...(tls ? { tls } : {}),
            },
          },
        },
      });
    const codes: Record<string, number | string> = {};
    for (const [name, tls] of Object.entries({
      'ca given': { ca: certs.caFile },
      none: undefined,
    })) {
      await project.write('supergraph.yaml', service(tls));
      const gateway = await startTestGateway({ configFile: project.configFile });
      try {
        const client = grpcClient(
          gateway.running.grpcAddress as string,
          'demo/users/v1/users.proto',
          'demo.users.v1.UserService',
        );
        const answer = await client.call('GetUser', { id: '1' });
        client.close();
        codes[name] = answer.error ? answer.error.code : String((answer.reply as any).name);
      } finally {
        await gateway.close();
      }
    }
    // Without the CA the backend's certificate is refused: the call fails (UNAVAILABLE or
    // INTERNAL, never OK).
    assert.equal(codes['ca given'], 'Ada');
    assert.notEqual(codes.none, 'Ada');
  });

  test('a subgraph’s HTTPS instances are called by address, with its CA and its host as Host and TLS name', async (t) => {
    const certs = await makeCertificates();
    const a = await startHttpsBackend(certs, { data: { hello: 'a' } });
    const b = await startHttpsBackend(certs, { data: { hello: 'b' } });
    t.after(() => Promise.all([a.close(), b.close()]));
    const project = await writeProject([]);
    t.after(() => project.remove());
    const logical = new URL(a.url);
    await project.write(
      'supergraph.yaml',
      stringify({
        subgraphs: {
          hello: {
            routing_url: `${a.url}/graphql`,
            instances: [a, b].map((x) => `127.0.0.1:${new URL(x.url).port}`),
            schema: { sdl: 'type Query { hello: String }' },
            tls: { ca: certs.caFile },
          },
        },
      }),
    );
    const gateway = await startTestGateway({ configFile: project.configFile });
    t.after(() => gateway.close());
    const answers = [];
    for (let i = 0; i < 4; i++)
      answers.push((await post(gateway.url, { query: '{ hello }' })).json);
    assert.deepEqual(answers.map((x) => x.data?.hello).sort(), ['a', 'a', 'b', 'b']);
    for (const seen of [a.seen, b.seen]) {
      assert.equal(seen.host, logical.host);
      assert.equal(seen.servername, 'localhost');
    }
  });
});
