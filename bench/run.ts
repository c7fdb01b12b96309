// `npm run bench`: each case loads its targets (two, or three), interleaved round by round in one
// run so all see the same machine, and prints the ratio. Not a test: CI skips it.
//
//   federation  this gateway vs a bare @apollo/gateway + @apollo/server, same subgraphs and query
//   rest        a REST-backed query through the gateway (REST adapter) vs the REST endpoint itself
//   grpc        a gRPC-backed query through the gateway (gRPC adapter) vs a grpc-js client
//   transcode   GET /v1/orders/1 through the gateway (REST to gRPC) vs GetOrder with grpc-js
//   grpc-front  GetUser through the gateway's gRPC port (gRPC to REST) vs GET /users/1 directly
//   observability  the federation query with request logs, metrics and tracing (spans made,
//               exporter none) on vs all off, same gateway; then the same observability path
//               in process (bench/observability-path.ts), per part
//   auth        the federation query with a credential verified (JWT RS256 and ES256 against a
//               JWKS served over HTTP, fetched once and cached; an API key), identity headers
//               and the gateway's proof to every subgraph, vs auth off (no credentials, no proof)
//   limits      the federation query with rate policies (requests and cost points, never
//               reached) kept in memory, then in Redis (REDIS_URL), vs no rate policies
//   clients     the federation query on a gateway with three clients, each with its own
//               contract (an engine each), the load spread over their endpoints, vs the same
//               gateway without clients; with each process's memory and first-request times
//   home        the BFF's mobile home (demo graph and backends) against the same data fetched as
//               the separate calls an app would make without it (modelled latency over a 50 ms
//               mobile network, bytes), then by persisted id vs as a raw document under load
//   dedup       (only when named) the federation query with in-flight deduplication on vs off
//               (traffic.dedup.enabled), same gateway config otherwise: over instant subgraphs
//               (what keying every call costs), then over subgraphs that answer in
//               BENCH_DEDUP_DELAY ms (what sharing calls saves), with the backend calls each made
//   large       issue 24's measure: a large fan-out (LARGE_SHOP_QUERY over 50 products: six
//               fetches, a 41 KB answer) at BENCH_LARGE_CONNECTIONS connections on a bare
//               @apollo/gateway, the same with a minimal undici fetcher, and this gateway with
//               every policy on (JWT, operation limits, cost, rate policies, request log,
//               metrics; no cache), with peak RSS and issue 24's targets (bench/large.ts)
//   tls         the federation query over HTTPS with HTTP/2 (one TLS session, the callers' requests
//               as concurrent streams on it, node:http2's client: autocannon speaks only
//               HTTP/1.1) vs plain HTTP/1.1 (autocannon), same config otherwise
//   context-manager  (only when named) tracing as the observability case's "all on", plus
//               Apollo Gateway's own spans recorded through the AsyncLocalStorage context
//               manager (bench/context-manager.ts), vs the same without
//   replicas    (only when named) the federation query over one instance of each subgraph vs two
//               (round robin, least loaded), dedup off: what balancing costs (bench/traffic.ts)
//   fast-fail   (only when named) a two-subgraph query with one backend ejected (fails fast with
//               UPSTREAM_CIRCUIT_OPEN) vs down and not ejected vs healthy (bench/traffic.ts)
//   cache       (only when named) the federation query on a bare @apollo/gateway, on this gateway
//               uncached, and served by the response cache; the entity cache answering another
//               query's fetches with the response cache off; memory and Redis (bench/cache.ts)
//   cluster     the demo graph (REST + gRPC, budgets in Redis, uncached) on 1 and on 3 gateway
//               instances behind HAProxy, and 1 without it, then where the CPU goes in each
//               (bench/cluster.ts; needs Debian's haproxy and redis-server)
//   workers     the federation query on `start --workers 2` vs `--workers 1`:
//               req/s, p99, CPU per request over every process of each (bench/workers.ts)
//
// Every process runs on the node that runs the bench, its TypeScript loaded as production
// loads it (bin/typescript-loader.js): compare runtimes with `PATH=<node bin>:$PATH npm run bench`.
//
// BENCH_CASES=federation,rest,grpc,transcode,grpc-front  BENCH_ROUNDS=3  BENCH_DURATION=10 (s)
// BENCH_HOME_RUNS=200 (the home case's sequential runs of each way)
// BENCH_CONNECTIONS=32  BENCH_LARGE_CONNECTIONS=50 (the large case's)  BENCH_TRACE_SAMPLE=1 (the observability case's sample ratio)
// BENCH_DEDUP_DELAY=20 (ms: the dedup case's slow subgraphs)
import { deepStrictEqual } from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { connect as connectHttp2, type ClientHttp2Session } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { stopChildren } from './children.ts';
import {
  adminOf,
  children,
  compare,
  costOf,
  expectJson,
  federationTargets,
  freePort,
  listening,
  median,
  memoryMiB,
  pidOf,
  request,
  ROOT,
  spawnTs,
  startSubgraphs,
  urlOf,
  CONNECTIONS,
  type Round,
  type Summary,
  type Target,
} from './harness.ts';
import { cacheCase } from './cache.ts';
import { largeCase } from './large.ts';
import { clusterCase } from './cluster.ts';
import { fastFailCase, replicasCase } from './traffic.ts';
import { workersCase } from './workers.ts';
import { loadOrderService } from '../demo/backends/orders-grpc.ts';
import { loadUserService } from '../demo/users-grpc.ts';
import { parse, stringify } from 'yaml';
import { composeSupergraph } from '../src/composition/compose.ts';
import { SHOP_QUERIES } from '../test/fixtures/graphs/shop.ts';
import { LIBRARY_SDL } from '../test/fixtures/rest/library.ts';

const CASES = (
  process.env.BENCH_CASES ??
  'federation,rest,grpc,transcode,grpc-front,observability,auth,limits,clients,home,tls,large,cluster,workers'
).split(',');
/** How long the dedup case's slow subgraphs hold each answer, in ms. */
const DEDUP_DELAY_MS = Number(process.env.BENCH_DEDUP_DELAY ?? 20);
/** The observability case's tracing.sample_ratio. */
const TRACE_SAMPLE = Number(process.env.BENCH_TRACE_SAMPLE ?? 1);

async function federationCase(dir: string) {
  const defs = await startSubgraphs();
  const { supergraphSdl } = composeSupergraph(defs.map((d) => ({ ...d, sourceName: d.name })));
  const supergraphFile = join(dir, 'supergraph.graphql');
  await writeFile(supergraphFile, supergraphSdl);
  const [ours, bare] = await Promise.all([
    spawnTs(['src/cli/main.ts', 'start', '--supergraph', supergraphFile, '--port', '0'], listening),
    spawnTs(['bench/bare-gateway.ts', supergraphFile], listening),
  ]);
  const body = JSON.stringify(SHOP_QUERIES['entities across four subgraphs']);
  const reference = JSON.parse(
    await request({ name: 'bare', url: urlOf(bare), method: 'POST', body, check: () => {} }),
  );
  const { a, b } = await compare(
    'federation fan-out: 4 subgraphs, lists, nested entities, @requires',
    {
      name: 'this gateway',
      url: urlOf(ours),
      pid: pidOf.get(ours),
      method: 'POST',
      body,
      check: expectJson(reference),
    },
    {
      name: 'bare @apollo/gateway',
      url: urlOf(bare),
      pid: pidOf.get(bare),
      method: 'POST',
      body,
      check: expectJson(reference),
    },
  );
  console.log(
    `\nratio ours/bare: ${(a.rps / b.rps).toFixed(2)}x throughput; p99 ${a.p99} ms vs ${b.p99} ms`,
  );
}

/**
 * Dedup on vs off, the federation query, the same config otherwise; twice: over instant
 * subgraphs, where few identical fetches overlap and the cost of keying every call shows, and
 * over subgraphs that take DEDUP_DELAY_MS, where the load's identical fetches overlap. Each
 * gateway's /metrics then says how many backend calls it made and how many it shared.
 */
async function dedupCase(dir: string) {
  for (const delayMs of [0, DEDUP_DELAY_MS]) {
    const defs = await startSubgraphs(delayMs);
    const subgraphs = Object.fromEntries(
      defs.map((d) => [d.name, { routing_url: d.url, schema: { sdl: d.sdl } }]),
    );
    const config = (on: boolean) =>
      stringify({ subgraphs, log: { requests: false }, traffic: { dedup: { enabled: on } } });
    const files = {
      on: join(dir, `dedup-on-${delayMs}.yaml`),
      off: join(dir, `dedup-off-${delayMs}.yaml`),
    };
    await writeFile(files.on, config(true));
    await writeFile(files.off, config(false));
    const start = (file: string) =>
      spawnTs(['src/cli/main.ts', 'start', '--config', file, '--port', '0'], listening);
    const [on, off] = await Promise.all([start(files.on), start(files.off)]);
    const target = await federationTargets(off);
    const backends = delayMs === 0 ? 'instant subgraphs' : `subgraphs answering in ${delayMs} ms`;
    const { a, b } = await compare(
      `dedup: in-flight deduplication on vs off, federation query, ${backends}`,
      target('dedup on', on),
      target('dedup off', off),
    );
    console.log(`
cost of dedup: ${costOf(a, b)}`);
    for (const [name, line] of [
      ['dedup on', on],
      ['dedup off', off],
    ] as const) {
      const metrics = await (await fetch(new URL('/metrics', adminOf(line)))).text();
      const made = sumOf(metrics, 'gateway_backend_calls_total');
      const shared = sumOf(metrics, 'gateway_backend_calls_deduplicated_total');
      const requests = sumOf(metrics, 'gateway_requests_total');
      console.log(
        `${name}: ${made} backend calls made, ${shared} shared (${((shared / Math.max(1, made + shared)) * 100).toFixed(1)}% of fetches), ${(made / Math.max(1, requests)).toFixed(2)} calls per request`,
      );
    }
  }
}

/** The sum of a Prometheus counter's series in a scrape. */
function sumOf(scrape: string, name: string): number {
  let sum = 0;
  for (const line of scrape.split('\n'))
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

async function observabilityCase(dir: string) {
  const defs = await startSubgraphs();
  const subgraphs = Object.fromEntries(
    defs.map((d) => [d.name, { routing_url: d.url, schema: { sdl: d.sdl } }]),
  );
  const config = (on: boolean) =>
    stringify({
      subgraphs,
      log: { requests: on },
      metrics: { enabled: on },
      tracing: { enabled: on, exporter: 'none', sample_ratio: TRACE_SAMPLE },
    });
  await writeFile(join(dir, 'obs-on.yaml'), config(true));
  await writeFile(join(dir, 'obs-off.yaml'), config(false));
  const start = (file: string) =>
    spawnTs(['src/cli/main.ts', 'start', '--config', join(dir, file), '--port', '0'], listening);
  const [on, off] = await Promise.all([start('obs-on.yaml'), start('obs-off.yaml')]);
  const target = await federationTargets(off);
  const { a, b } = await compare(
    `observability: request logs + metrics + tracing (exporter none, sample ratio ${TRACE_SAMPLE}) on vs off, federation query`,
    target('all on', on),
    target('all off', off),
  );
  console.log(`\ncost of observability: ${costOf(a, b)}`);
  // The same path in process, one process per mode: CPU per request without the load's noise.
  console.log('\nobservability path in process (100,000 requests, five backend calls each)');
  console.log('| mode | CPU µs/request | share of a request (all off) |');
  console.log('| --- | ---: | ---: |');
  for (const mode of ['plumbing', 'logs', 'metrics', 'tracing', 'all']) {
    const { us } = JSON.parse(await spawnTs(['bench/observability-path.ts', mode])) as {
      us: number;
    };
    const share = b.cpuUs === undefined ? '' : `${((us / b.cpuUs) * 100).toFixed(1)}%`;
    console.log(`| ${mode} | ${us.toFixed(1)} | ${share} |`);
  }
}

async function restCase(dir: string) {
  const service = urlOf(await spawnTs(['bench/rest-service.ts']));
  await writeFile(join(dir, 'library.graphql'), LIBRARY_SDL);
  await writeFile(
    join(dir, 'rest.yaml'),
    stringify({
      subgraphs: {
        library: {
          schema: { file: './library.graphql' },
          source: { kind: 'rest', base_url: service },
        },
      },
    }),
  );
  const gateway = urlOf(
    await spawnTs(
      ['src/cli/main.ts', 'start', '--config', join(dir, 'rest.yaml'), '--port', '0'],
      listening,
    ),
  );
  // The same 20 books either way: GraphQL asks for every property the endpoint returns.
  const direct: Target = {
    name: 'REST endpoint directly',
    url: `${service}/books`,
    method: 'GET',
    check: () => {},
  };
  const books = JSON.parse(await request(direct)) as {
    isbn: string;
    title: string;
    author_id: string;
  }[];
  direct.check = expectJson(books);
  const expected = {
    data: { books: books.map((b) => ({ isbn: b.isbn, title: b.title, authorId: b.author_id })) },
  };
  const { a, b } = await compare(
    'REST adapter: GET /books (20 books) through the gateway vs directly',
    {
      name: 'through the gateway',
      url: gateway,
      method: 'POST',
      body: JSON.stringify({ query: '{ books { isbn title authorId } }' }),
      check: expectJson(expected),
    },
    direct,
  );
  printAdded(a, b);
}

/** CONNECTIONS concurrent callers for `duration` seconds, each waiting for its answer. */
async function loadCalls(call: () => Promise<unknown>, duration: number): Promise<Round> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + duration * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const started = performance.now();
      try {
        await call();
        latencies.push(performance.now() - started);
      } catch {
        errors += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  latencies.sort((x, y) => x - y);
  const at = (q: number) =>
    Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? 0);
  return {
    rps: latencies.length / duration,
    count: latencies.length,
    p50: at(0.5),
    p99: at(0.99),
    errors,
  };
}

async function grpcCase(dir: string) {
  const { address } = JSON.parse(await spawnTs(['bench/grpc-service.ts'])) as { address: string };
  await writeFile(
    join(dir, 'grpc.yaml'),
    stringify({
      subgraphs: {
        orders: {
          source: {
            kind: 'grpc',
            address,
            protos: ['demo/orders/v1/orders.proto'],
            include_dirs: [join(ROOT, 'protos')],
          },
        },
      },
    }),
  );
  const gateway = urlOf(
    await spawnTs(
      ['src/cli/main.ts', 'start', '--config', join(dir, 'grpc.yaml'), '--port', '0'],
      listening,
    ),
  );
  const { client, direct } = directGetOrder(address);
  try {
    const { a, b } = await compare(
      'gRPC adapter: GetOrder through the gateway vs the same call with a grpc-js client',
      {
        name: 'through the gateway',
        url: gateway,
        method: 'POST',
        body: JSON.stringify({
          query: '{ getOrder(id: "1") { id status items { productId quantity } } }',
        }),
        check: expectJson({
          data: {
            getOrder: {
              id: '1',
              status: 'DELIVERED',
              items: [
                { productId: 'p1', quantity: 1 },
                { productId: 'p2', quantity: 2 },
              ],
            },
          },
        }),
      },
      direct,
    );
    printAdded(a, b);
  } finally {
    client.close();
  }
}

function printAdded(a: Summary, b: Summary) {
  console.log(
    `\nratio gateway/direct: ${(a.rps / b.rps).toFixed(2)}x throughput; added latency p50 +${a.p50 - b.p50} ms, p99 +${a.p99 - b.p99} ms`,
  );
}

/** GetOrder("1") on the orders service with a grpc-js client: the direct side of two cases. */
function directGetOrder(address: string) {
  const client = new (loadOrderService())(
    address,
    grpc.credentials.createInsecure(),
  ) as unknown as {
    getOrder(
      req: { id: string },
      cb: (e: Error | null, r: { id: string; status: string; items: unknown[] }) => void,
    ): void;
    close(): void;
  };
  const getOrder = () =>
    new Promise<{ id: string; status: string; items: unknown[] }>((resolve, reject) =>
      client.getOrder({ id: '1' }, (error, order) => (error ? reject(error) : resolve(order))),
    );
  const direct: Target = {
    name: 'grpc-js client directly',
    url: address,
    method: 'POST',
    check: (text) => {
      if (!text.includes('ORDER_STATUS_DELIVERED'))
        throw new Error(`unexpected gRPC answer ${text}`);
    },
    call: async () => JSON.stringify(await getOrder()),
    loadWith: (duration) => loadCalls(getOrder, duration),
  };
  return { client, direct };
}

/** A config needs one subgraph; this one is never called. */
const STUB_SUBGRAPH = {
  stub: {
    routing_url: 'http://127.0.0.1:9/graphql',
    schema: { sdl: 'type Query { hello: String }' },
  },
};

async function transcodeCase(dir: string) {
  const { address } = JSON.parse(await spawnTs(['bench/grpc-service.ts'])) as { address: string };
  await writeFile(
    join(dir, 'transcode.yaml'),
    stringify({
      subgraphs: STUB_SUBGRAPH,
      transcode: {
        orders: {
          address,
          protos: ['demo/orders/v1/orders.proto'],
          include_dirs: [join(ROOT, 'protos')],
        },
      },
    }),
  );
  const gateway = new URL(
    urlOf(
      await spawnTs(
        ['src/cli/main.ts', 'start', '--config', join(dir, 'transcode.yaml'), '--port', '0'],
        listening,
      ),
    ),
  ).origin;
  const { client, direct } = directGetOrder(address);
  try {
    const { a, b } = await compare(
      'REST to gRPC: GET /v1/orders/1 through the gateway vs GetOrder with a grpc-js client',
      {
        name: 'through the gateway',
        url: `${gateway}/v1/orders/1`,
        method: 'GET',
        check: (text) => {
          const order = JSON.parse(text) as { id: string; status: string };
          if (order.id !== '1' || order.status !== 'ORDER_STATUS_DELIVERED')
            throw new Error(`unexpected answer ${text}`);
        },
      },
      direct,
    );
    printAdded(a, b);
  } finally {
    client.close();
  }
}

async function grpcFrontCase(dir: string) {
  const users = (JSON.parse(await spawnTs(['bench/users-service.ts'])) as { url: string }).url;
  await writeFile(
    join(dir, 'grpc-front.yaml'),
    stringify({
      subgraphs: STUB_SUBGRAPH,
      grpc_server: {
        port: 0,
        services: {
          users: {
            protos: ['demo/users/v1/users.proto'],
            include_dirs: [join(ROOT, 'protos')],
            base_url: users,
          },
        },
      },
    }),
  );
  const grpcAddress = (
    JSON.parse(
      await spawnTs(
        ['src/cli/main.ts', 'start', '--config', join(dir, 'grpc-front.yaml'), '--port', '0'],
        (line) => line.includes('"msg":"gRPC port listening"'),
      ),
    ) as { address: string }
  ).address;
  const client = new (loadUserService())(
    grpcAddress,
    grpc.credentials.createInsecure(),
  ) as unknown as {
    getUser(req: { id: string }, cb: (e: Error | null, r: { name: string }) => void): void;
    close(): void;
  };
  const getUser = () =>
    new Promise<{ name: string }>((resolve, reject) =>
      client.getUser({ id: '1' }, (error, user) => (error ? reject(error) : resolve(user))),
    );
  try {
    const { a, b } = await compare(
      'gRPC to REST: GetUser through the gateway vs GET /users/1 directly',
      {
        name: 'grpc-js via the gateway',
        url: grpcAddress,
        method: 'POST',
        check: (text) => {
          if (!text.includes('Ada Lovelace')) throw new Error(`unexpected gRPC answer ${text}`);
        },
        call: async () => JSON.stringify(await getUser()),
        loadWith: (duration) => loadCalls(getUser, duration),
      },
      {
        name: 'REST endpoint directly',
        url: `${users}/users/1`,
        method: 'GET',
        check: expectJson({ id: '1', name: 'Ada Lovelace', email: 'ada@example.com' }),
      },
    );
    printAdded(a, b);
  } finally {
    client.close();
  }
}

async function contextManagerCase(dir: string) {
  const defs = await startSubgraphs();
  const subgraphs = Object.fromEntries(
    defs.map((d) => [d.name, { routing_url: d.url, schema: { sdl: d.sdl } }]),
  );
  const file = join(dir, 'traced.yaml');
  await writeFile(
    file,
    stringify({ subgraphs, tracing: { enabled: true, exporter: 'none', sample_ratio: 1 } }),
  );
  const gateway = ['src/cli/main.ts', 'start', '--config', file, '--port', '0'];
  const [withManager, without] = await Promise.all([
    spawnTs(['--import', join(ROOT, 'bench/context-manager.ts'), ...gateway], listening),
    spawnTs(gateway, listening),
  ]);
  const target = await federationTargets(without);
  const { a, b } = await compare(
    `Apollo Gateway's spans through the AsyncLocalStorage context manager (node ${process.version}), tracing on, federation query`,
    target('with context manager', withManager),
    target('explicit parents only', without),
  );
  console.log(`\ncost of the context manager: ${costOf(a, b)}`);
}

/**
 * Auth on vs off on the federation query: each credential kind in its own gateway, compared
 * with one that verifies nothing and sends no proof. The JWKS is fetched once (then cached),
 * and every request presents the same token, as a client does between refreshes.
 */
async function authCase(dir: string) {
  const { exportJWK, generateKeyPair, SignJWT } = await import('jose');
  const { createHash, randomBytes } = await import('node:crypto');
  const { createServer } = await import('node:http');
  const rsa = await generateKeyPair('RS256');
  const ec = await generateKeyPair('ES256');
  const jwks = JSON.stringify({
    keys: [
      { ...(await exportJWK(rsa.publicKey)), kid: 'rsa', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'ec', alg: 'ES256', use: 'sig' },
    ],
  });
  const jwksServer = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(jwks);
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/jwks`;
  const sign = (
    alg: string,
    key: Parameters<InstanceType<typeof SignJWT>['sign']>[0],
    kid: string,
  ) =>
    new SignJWT({ scope: 'users:email orders:read' })
      .setProtectedHeader({ alg, kid, typ: 'JWT' })
      .setIssuer('https://bench.example/')
      .setAudience('bench')
      .setSubject('user-1')
      .setIssuedAt()
      .setExpirationTime('2h')
      .sign(key);
  const apiKey = `gw_${randomBytes(32).toString('base64url')}`;
  const defs = await startSubgraphs();
  const subgraphs = Object.fromEntries(
    defs.map((d) => [d.name, { routing_url: d.url, schema: { sdl: d.sdl } }]),
  );
  const credentials = {
    jwt: [{ issuer: 'https://bench.example/', audiences: ['bench'], jwks_url: jwksUrl }],
    api_keys: {
      keys: [
        {
          name: 'bench',
          sha256: createHash('sha256').update(apiKey).digest('hex'),
          client_id: 'bench',
          scopes: ['users:email'],
        },
      ],
    },
  };
  await writeFile(
    join(dir, 'auth-off.yaml'),
    stringify({ subgraphs, auth: { identity: { proof: { mode: 'none' } } } }),
  );
  await writeFile(join(dir, 'auth-on.yaml'), stringify({ subgraphs, auth: credentials }));
  const start = (file: string) =>
    spawnTs(['src/cli/main.ts', 'start', '--config', join(dir, file), '--port', '0'], listening);
  const [off, on] = await Promise.all([start('auth-off.yaml'), start('auth-on.yaml')]);
  const target = await federationTargets(off);
  const variants: [string, Record<string, string>][] = [
    ['JWT RS256', { authorization: `Bearer ${await sign('RS256', rsa.privateKey, 'rsa')}` }],
    ['JWT ES256', { authorization: `Bearer ${await sign('ES256', ec.privateKey, 'ec')}` }],
    ['API key', { 'x-api-key': apiKey }],
    ['proof only (anonymous)', {}],
  ];
  const summary: string[] = [];
  try {
    for (const [name, headers] of variants) {
      const { a, b } = await compare(
        `auth: ${name}, identity and proof to every subgraph, vs auth off, federation query`,
        target(`auth on, ${name}`, on, headers),
        target('auth off', off),
      );
      const line = `${name}: ${costOf(a, b)}`;
      console.log(`
cost of auth, ${line}`);
      summary.push(line);
    }
  } finally {
    jwksServer.close();
  }
  console.log(`\ncost of auth against auth off:\n${summary.map((l) => `  ${l}`).join('\n')}`);
}

/**
 * The federation query with limits on: operation limits and the cost max are on in every case
 * (their defaults); "on" adds rate policies (requests and cost points, budgets no request
 * reaches, so every request is decided and admitted) kept in memory or in Redis, vs no policies.
 */
async function limitsCase(dir: string) {
  const defs = await startSubgraphs();
  const subgraphs = Object.fromEntries(
    defs.map((d) => [d.name, { routing_url: d.url, schema: { sdl: d.sdl } }]),
  );
  const policies = [
    { name: 'per-minute', limit: 1_000_000_000, window: '60s' },
    { name: 'points', unit: 'cost', limit: 1_000_000_000, window: '60s', surfaces: ['graphql'] },
  ];
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const prefix = `gateway-bench:${process.pid}:`;
  await writeFile(join(dir, 'limits-off.yaml'), stringify({ subgraphs }));
  await writeFile(
    join(dir, 'limits-memory.yaml'),
    stringify({ subgraphs, limits: { rate: { policies } } }),
  );
  await writeFile(
    join(dir, 'limits-redis.yaml'),
    stringify({
      subgraphs,
      limits: { rate: { policies }, store: { kind: 'redis' } },
      redis: { url: redisUrl, key_prefix: prefix },
    }),
  );
  const start = (file: string) =>
    spawnTs(['src/cli/main.ts', 'start', '--config', join(dir, file), '--port', '0'], listening);
  const [off, memory, redis] = await Promise.all([
    start('limits-off.yaml'),
    start('limits-memory.yaml'),
    start('limits-redis.yaml'),
  ]);
  const target = await federationTargets(off);
  const summary: string[] = [];
  for (const [name, line] of [
    ['memory', memory],
    ['Redis', redis],
  ] as const) {
    const { a, b } = await compare(
      `limits: rate policies (requests and cost points) in ${name} vs none, federation query`,
      target(`rate limits, ${name}`, line),
      target('no rate limits', off),
    );
    const row = `${name}: ${costOf(a, b)}`;
    console.log(`\ncost of rate limits, ${row}`);
    summary.push(row);
  }
  console.log(`\ncost of rate limits against none:\n${summary.map((l) => `  ${l}`).join('\n')}`);
  const { Redis } = await import('ioredis');
  const client = new Redis(redisUrl);
  const keys = await client.keys(`${prefix}*`);
  if (keys.length > 0) await client.del(...keys);
  client.disconnect();
}

/**
 * What clients with contracts cost: three clients, each with a contract of its own (each hides a
 * different field the query does not use, so all three answer the same), so three engines, each
 * with its own query planner, plan cache and document cache, against the same graph served whole
 * without clients.
 */
async function clientsCase(dir: string) {
  const defs = await startSubgraphs();
  const tags = ['c1', 'c2', 'c3'];
  const subgraphs = Object.fromEntries(
    defs.map((d) => [
      d.name,
      {
        routing_url: d.url,
        schema: {
          sdl:
            d.name === 'accounts'
              ? d.sdl
                  .replace('"@key",', '"@key","@tag",')
                  .replace('previewRename(id: ID!, name: String!): User', '$& @tag(name: "c1")')
                  .replace('me: User', '$& @tag(name: "c2")')
                  .replace('users: [User!]!', '$& @tag(name: "c3")')
              : d.sdl,
        },
      },
    ]),
  );
  const clients = Object.fromEntries(tags.map((tag) => [tag, { contract: { exclude: [tag] } }]));
  await writeFile(join(dir, 'clients-none.yaml'), stringify({ subgraphs }));
  await writeFile(join(dir, 'clients-three.yaml'), stringify({ subgraphs, clients }));
  const start = (file: string) =>
    spawnTs(['src/cli/main.ts', 'start', '--config', join(dir, file), '--port', '0'], listening);
  const [none, three] = await Promise.all([
    start('clients-none.yaml'),
    start('clients-three.yaml'),
  ]);
  const body = JSON.stringify(SHOP_QUERIES['entities across four subgraphs']);
  // The first request of each graph plans the query (and parses and validates the document)
  // on that graph's engine: one cold plan per contract.
  const firstMs = async (url: string) => {
    const began = performance.now();
    await request({ name: 'first', url, method: 'POST', body, check: () => {} });
    return performance.now() - began;
  };
  const coldNone = await firstMs(urlOf(none));
  const coldThree = [];
  for (const tag of tags) coldThree.push(await firstMs(`${urlOf(three)}/${tag}`));
  const idle = { none: memoryMiB(pidOf.get(none)), three: memoryMiB(pidOf.get(three)) };
  const target = await federationTargets(none);
  const spread = target('three clients', three);
  spread.paths = tags.map((tag) => `${new URL(spread.url).pathname}/${tag}`);
  const { a, b } = await compare(
    'clients: three clients with a contract each (load spread over their endpoints) vs none, federation query',
    spread,
    target('no clients', none),
  );
  const loaded = { none: memoryMiB(pidOf.get(none)), three: memoryMiB(pidOf.get(three)) };
  const mib = (m: { rss: number; peak: number } | undefined) =>
    m ? `RSS ${m.rss.toFixed(0)} MiB (peak ${m.peak.toFixed(0)})` : 'n/a';
  console.log(`
cost of three contracts: ${costOf(a, b)}`);
  console.log(
    `first request (parse, validate, plan): none ${coldNone.toFixed(1)} ms; three clients ${coldThree.map((ms) => ms.toFixed(1)).join(' / ')} ms`,
  );
  console.log(`memory after start: none ${mib(idle.none)}; three ${mib(idle.three)}`);
  console.log(`memory after load:  none ${mib(loaded.none)}; three ${mib(loaded.three)}`);
}

/** The mobile home screen, as the mobile app asks for it (schemas/mobile.graphql). */
const HOME_DOCUMENT = `query Home {
  home {
    viewer { id name }
    recentOrders { id status createdAt items { productId quantity productName } }
    recommended { id name priceCents }
  }
}`;

/**
 * What the app asks without the BFF, one operation per backend, each what the BFF's resolvers
 * ask for (demo/bff/mobile.ts). The product names need the orders' product ids: that one
 * waits for the orders; the other three depend on nothing but the signed-in user's id.
 */
const SEPARATE_DOCUMENTS = {
  viewer: 'query Viewer($id: ID!) { user(id: $id) { id name } }',
  orders:
    'query Orders($userId: String) { listOrdersByUser(userId: $userId) { orders { id status createdAt items { productId quantity } } } }',
  names: 'query ProductNames($ids: [ID!]) { products(ids: $ids) { id name } }',
  catalog: 'query Catalog { products { id name priceCents } }',
  // No BFF and no separate calls: the federated graph already joins users, orders and products,
  // so an app can write one query for it all, and trim and filter the answer itself (every
  // order, not the three newest; the whole catalog).
  federated:
    'query HomeFederated($id: ID!) { user(id: $id) { id name orders { id status createdAt items { productId quantity product { name } } } } products { id name priceCents } }',
};

interface HomeOrder {
  id: string;
  status: string;
  createdAt: string | null;
  items: { productId: string; quantity: number; productName?: string | null }[];
}
interface HomeProduct {
  id: string;
  name: string;
  priceCents: number;
}

/** The home screen assembled in the app from what it fetched, as the BFF's resolvers build it. */
function assembleHome(
  viewer: unknown,
  orders: HomeOrder[],
  names: Map<string, string>,
  catalog: HomeProduct[],
) {
  const ordered = new Set(orders.flatMap((o) => o.items.map((i) => i.productId)));
  return {
    home: {
      viewer,
      recentOrders: orders.slice(0, 3).map((o) => ({
        id: o.id,
        status: o.status,
        createdAt: o.createdAt,
        items: o.items.map((i) => ({
          productId: i.productId,
          quantity: i.quantity,
          productName: names.get(i.productId) ?? null,
        })),
      })),
      recommended: catalog.filter((p) => !ordered.has(p.id)).slice(0, 3),
    },
  };
}

/** A 4G/LTE-like mobile round trip; the model ignores bandwidth and connection setup. */
const MOBILE_RTT_MS = 50;
/** Sequential runs of each way to fetch the home, for the modelled latency. */
const HOME_RUNS = Number(process.env.BENCH_HOME_RUNS ?? 200);

/**
 * The BFF's mobile `home` (demo graph and backends, auth with the demo's issuer, the backends
 * checking the gateway's proof), two ways:
 *
 * 1. Against the same data fetched as separate calls, as the app would without the BFF. Each
 *    way runs HOME_RUNS times, one request at a time over keep-alive on loopback (the ways
 *    interleaved), and its median time is the server time; its modelled latency over a mobile
 *    network adds one MOBILE_RTT_MS per round trip it cannot avoid. Also the bytes of the request
 *    and response bodies each way sends (headers left out: each request also carries the token).
 *    Every call goes by id on the persisted-only `mobile` client, the BFF's operation and the
 *    separate ones alike, so only the aggregation differs.
 * 2. By its persisted id on `mobile` (persisted-only, APQ off) against its raw document on
 *    `mobile-raw` (no trusted documents), under load: what sending the text costs the gateway
 *    (parse and validate are cached per document text either way, so mostly the bytes).
 */
async function homeCase(dir: string) {
  const project = join(dir, 'home');
  await mkdir(project);
  // The demo's supergraph.yaml in a folder of its own, its schemas, protos and BFF module the
  // repository's (linked), so its relative paths read the same.
  for (const folder of ['schemas', 'protos', 'demo'])
    await symlink(join(ROOT, folder), join(project, folder));
  const gatewayPort = await freePort();
  const { env, token } = JSON.parse(
    await spawnTs(['bench/demo-services.ts', String(gatewayPort), join(project, 'keys')]),
  ) as { env: Record<string, string>; token: string };

  const documents = { home: HOME_DOCUMENT, ...SEPARATE_DOCUMENTS };
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  const ids = Object.fromEntries(
    Object.entries(documents).map(([key, body]) => [key, sha256(body)]),
  ) as Record<keyof typeof documents, string>;
  await writeFile(
    join(project, 'mobile-manifest.json'),
    JSON.stringify({
      format: 'apollo-persisted-query-manifest',
      version: 1,
      operations: Object.entries(documents).map(([key, body]) => ({
        id: ids[key as keyof typeof documents],
        name: /query (\w+)/.exec(body)?.[1],
        type: 'query',
        body,
      })),
    }),
  );
  const config = parse(await readFile(join(ROOT, 'supergraph.yaml'), 'utf8')) as Record<
    string,
    unknown
  >;
  // No rate policies: the demo's 100 requests per 10 s would refuse the load with 429. The
  // REST and gRPC fronts and the routes serve nothing here.
  delete config.limits;
  delete config.transcode;
  delete config.grpc_server;
  delete config.routes;
  config.clients = {
    mobile: {
      persisted_documents: {
        manifest: './mobile-manifest.json',
        persisted_only: true,
        apq: false,
      },
    },
    'mobile-raw': {},
  };
  const configFile = join(project, 'supergraph.yaml');
  await writeFile(configFile, stringify(config));
  const line = await spawnTs(
    ['src/cli/main.ts', 'start', '--config', configFile, '--port', String(gatewayPort)],
    listening,
    { ...env, GATEWAY_MODE: 'production' },
  );
  const graphql = urlOf(line);
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

  const bytes = { request: 0, response: 0 };
  /** One operation by id on `mobile`: its data, or a throw with the answer. */
  const call = async <T = unknown>(
    key: keyof typeof documents,
    variables?: Record<string, unknown>,
  ): Promise<T> => {
    const body = JSON.stringify({ documentId: ids[key], ...(variables ? { variables } : {}) });
    const res = await fetch(`${graphql}/mobile`, { method: 'POST', headers, body });
    const text = await res.text();
    bytes.request += Buffer.byteLength(body);
    bytes.response += Buffer.byteLength(text);
    const answer = JSON.parse(text) as { data?: T; errors?: unknown };
    if (res.status !== 200 || answer.errors || !answer.data)
      throw new Error(`${key}: ${res.status} ${text}`);
    return answer.data;
  };
  const viewerId = '1';
  const productNames = async (orders: HomeOrder[]) => {
    const wanted = [...new Set(orders.slice(0, 3).flatMap((o) => o.items.map((i) => i.productId)))];
    const { products } = await call<{ products: { id: string; name: string }[] }>('names', {
      ids: wanted,
    });
    return new Map(products.map((p) => [p.id, p.name]));
  };
  type Viewer = { user: { id: string; name: string } };
  type Orders = { listOrdersByUser: { orders: HomeOrder[] } };
  type Catalog = { products: HomeProduct[] };
  const ordersOf = (data: Orders) => data.listOrdersByUser.orders;
  const ways = {
    'home (BFF, one request)': { trips: 1, requests: 1, fetch: () => call('home') },
    'separate calls, one after another': {
      trips: 4,
      requests: 4,
      fetch: async () => {
        const viewer = (await call<Viewer>('viewer', { id: viewerId })).user;
        const orders = ordersOf(await call<Orders>('orders', { userId: viewerId }));
        const names = await productNames(orders);
        const { products } = await call<Catalog>('catalog');
        return assembleHome(viewer, orders, names, products);
      },
    },
    'separate calls, parallel where possible': {
      // Viewer, orders and catalog together, then the names the orders need: two round trips.
      trips: 2,
      requests: 4,
      fetch: async () => {
        const [viewer, orders, catalog] = await Promise.all([
          call<Viewer>('viewer', { id: viewerId }),
          call<Orders>('orders', { userId: viewerId }),
          call<Catalog>('catalog'),
        ]);
        const names = await productNames(ordersOf(orders));
        return assembleHome(viewer.user, ordersOf(orders), names, catalog.products);
      },
    },
    'one federated query (no BFF)': {
      trips: 1,
      requests: 1,
      fetch: async () => {
        const { user, products } = await call<{
          user: {
            id: string;
            name: string;
            orders: (Omit<HomeOrder, 'items'> & {
              items: { productId: string; quantity: number; product: { name: string } }[];
            })[];
          };
          products: HomeProduct[];
        }>('federated', { id: viewerId });
        const { orders } = user;
        const names = new Map(
          orders.flatMap((o) => o.items.map((i) => [i.productId, i.product.name] as const)),
        );
        const plain = orders.map((o) => ({
          ...o,
          items: o.items.map(({ productId, quantity }) => ({ productId, quantity })),
        }));
        return assembleHome({ id: user.id, name: user.name }, plain, names, products);
      },
    },
  };
  // Every way must build the same screen, before and after the runs.
  const reference = await call('home');
  const checkWays = async () => {
    for (const [name, way] of Object.entries(ways)) {
      try {
        deepStrictEqual(await way.fetch(), reference);
      } catch (error) {
        throw new Error(`${name} does not give the home's answer`, { cause: error });
      }
    }
  };
  await checkWays();
  const size = new Map<string, { request: number; response: number }>();
  for (const [name, way] of Object.entries(ways)) {
    bytes.request = bytes.response = 0;
    await way.fetch();
    size.set(name, { ...bytes });
  }
  const times = new Map<string, number[]>(Object.keys(ways).map((name) => [name, []]));
  const warmup = Math.min(20, HOME_RUNS);
  for (let i = 0; i < warmup + HOME_RUNS; i++) {
    for (const [name, way] of Object.entries(ways)) {
      const began = performance.now();
      await way.fetch();
      if (i >= warmup) times.get(name)!.push(performance.now() - began);
    }
  }
  await checkWays();
  console.log(
    `\nhome: the BFF's mobile home against the same data as separate calls, ${HOME_RUNS} sequential runs each over keep-alive on loopback (interleaved); modelled latency = round trips x ${MOBILE_RTT_MS} ms + the median time measured; body bytes (each request also sends a ${Buffer.byteLength(headers.authorization)}-byte authorization header)`,
  );
  console.log(
    '\n| way | round trips | requests | measured ms (median) | modelled ms | request bytes | response bytes |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [name, way] of Object.entries(ways)) {
    const ms = median(times.get(name)!);
    const { request: sent, response: received } = size.get(name)!;
    console.log(
      `| ${name} | ${way.trips} | ${way.requests} | ${ms.toFixed(2)} | ${(way.trips * MOBILE_RTT_MS + ms).toFixed(0)} | ${sent} | ${received} |`,
    );
  }

  // 2. The persisted id against the raw document, under load.
  const byId = JSON.stringify({ documentId: ids.home });
  const raw = JSON.stringify({ query: HOME_DOCUMENT });
  // The answer's data, whatever extensions come with it.
  const check = (text: string) => {
    const answer = JSON.parse(text) as { data?: unknown; errors?: unknown };
    if (answer.errors) throw new Error(`unexpected errors: ${text}`);
    deepStrictEqual(answer.data, reference);
  };
  const auth = { authorization: headers.authorization };
  const pid = pidOf.get(line);
  const { a, b } = await compare(
    'home: by its persisted id on a persisted-only client vs its raw document on a client without trusted documents',
    {
      name: 'persisted id (mobile)',
      url: `${graphql}/mobile`,
      method: 'POST',
      body: byId,
      headers: auth,
      check,
      pid,
    },
    {
      name: 'raw document (mobile-raw)',
      url: `${graphql}/mobile-raw`,
      method: 'POST',
      body: raw,
      headers: auth,
      check,
      pid,
    },
  );
  console.log(`\ncost of the persisted id against the raw document: ${costOf(a, b)}`);
  console.log(
    `request body: ${Buffer.byteLength(byId)} bytes by id, ${Buffer.byteLength(raw)} bytes raw`,
  );
}

/**
 * The federation query through one gateway config served two ways: HTTPS with HTTP/2 (a
 * throwaway self-signed certificate made with openssl) against plain HTTP/1.1.
 */
async function tlsCase(dir: string) {
  const defs = await startSubgraphs();
  const { supergraphSdl } = composeSupergraph(defs.map((d) => ({ ...d, sourceName: d.name })));
  const supergraphFile = join(dir, 'supergraph-tls.graphql');
  await writeFile(supergraphFile, supergraphSdl);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'tls.key',
      '-out',
      'tls.pem',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { cwd: dir, stdio: 'pipe' },
  );
  const subgraphs = Object.fromEntries(
    defs.map((d) => [d.name, { routing_url: d.url, schema: { sdl: d.sdl } }]),
  );
  const configs = {
    plain: { subgraphs, log: { requests: false } },
    tls: {
      subgraphs,
      log: { requests: false },
      server: { tls: { cert: 'tls.pem', key: 'tls.key' } },
    },
  };
  const [plain, secure] = await Promise.all(
    Object.entries(configs).map(async ([name, config]) => {
      const file = join(dir, `${name}.yaml`);
      await writeFile(file, stringify(config));
      const args = ['src/cli/main.ts', 'start', '--config', file, '--supergraph', supergraphFile];
      return spawnTs([...args, '--port', '0'], listening);
    }),
  );
  const body = JSON.stringify(SHOP_QUERIES['entities across four subgraphs']);
  const reference = JSON.parse(
    await request({ name: 'plain', url: urlOf(plain!), method: 'POST', body, check: () => {} }),
  );
  const url = new URL(urlOf(secure!));
  // One session, opened again when the gateway lets it go: while the other target's round
  // runs, it sits idle past server.keep_alive_timeout and the gateway closes it (GOAWAY), as it
  // would any idle client's.
  const ca = readFileSync(join(dir, 'tls.pem'));
  let session: ClientHttp2Session | undefined;
  let opening: Promise<ClientHttp2Session> | undefined;
  const sessionOf = (): Promise<ClientHttp2Session> => {
    if (session && !session.closed && !session.destroyed) return Promise.resolve(session);
    opening ??= (async () => {
      const next = connectHttp2(url.origin, { ca });
      next.on('error', () => {});
      next.on('goaway', () => next.close());
      await once(next, 'connect');
      session = next;
      opening = undefined;
      return next;
    })();
    return opening;
  };
  await sessionOf();
  const h2Post = async () => {
    const live = await sessionOf();
    return new Promise<string>((resolve, reject) => {
      const stream = live.request({
        ':method': 'POST',
        ':path': url.pathname,
        'content-type': 'application/json',
      });
      let text = '';
      let status = 0;
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (text += chunk));
      stream.on('end', () => (status === 200 ? resolve(text) : reject(new Error(`${status}`))));
      stream.on('error', reject);
      stream.end(body);
    });
  };
  try {
    const { a, b } = await compare(
      'HTTPS + HTTP/2 (one session, concurrent streams) against plain HTTP/1.1',
      {
        name: 'HTTPS + h2',
        url: url.href,
        pid: pidOf.get(secure!),
        method: 'POST',
        body,
        check: expectJson(reference),
        call: h2Post,
        loadWith: (duration) => loadCalls(h2Post, duration),
      },
      {
        name: 'plain HTTP/1.1',
        url: urlOf(plain!),
        pid: pidOf.get(plain!),
        method: 'POST',
        body,
        check: expectJson(reference),
      },
    );
    console.log(`
cost of HTTPS + h2 against plain HTTP/1.1: ${costOf(a, b)}`);
  } finally {
    session?.close();
  }
}

async function main() {
  console.log(`node ${process.version}`);
  const dir = await mkdtemp(join(tmpdir(), 'gateway-bench-'));
  try {
    if (CASES.includes('federation')) await federationCase(dir);
    if (CASES.includes('rest')) await restCase(dir);
    if (CASES.includes('grpc')) await grpcCase(dir);
    if (CASES.includes('transcode')) await transcodeCase(dir);
    if (CASES.includes('grpc-front')) await grpcFrontCase(dir);
    if (CASES.includes('observability')) await observabilityCase(dir);
    if (CASES.includes('auth')) await authCase(dir);
    if (CASES.includes('limits')) await limitsCase(dir);
    if (CASES.includes('clients')) await clientsCase(dir);
    if (CASES.includes('home')) await homeCase(dir);
    if (CASES.includes('dedup')) await dedupCase(dir);
    if (CASES.includes('tls')) await tlsCase(dir);
    if (CASES.includes('large')) await largeCase(dir);
    if (CASES.includes('context-manager')) await contextManagerCase(dir);
    if (CASES.includes('replicas')) await replicasCase(dir);
    if (CASES.includes('fast-fail')) await fastFailCase(dir);
    if (CASES.includes('cache')) await cacheCase(dir);
    if (CASES.includes('cluster')) await clusterCase();
    if (CASES.includes('workers')) await workersCase(dir);
  } finally {
    await stopChildren(children);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
