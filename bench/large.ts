// The `large` case of `npm run bench` (bench/run.ts), issue 24's measure: one screen's worth of
// federated data (LARGE_SHOP_QUERY over largeShopData(50): six subgraph fetches, a 41 KB answer)
// at BENCH_LARGE_CONNECTIONS (50) connections, on three targets, each checked against the bare
// gateway's answer before and after the load:
//
//   bare @apollo/gateway            bench/bare-gateway.ts: Apollo Gateway + Apollo Server defaults
//   bare + minimal undici fetcher   bench/minimal-gateway.ts: the same with a data source that
//                                   only posts the fetch and parses the answer
//   this gateway, every policy on   a JWT (HS256) required, operation limits, a cost max, rate
//                                   policies (requests and cost points, in memory), the request
//                                   log and metrics; no cache (the issue measures the uncached path)
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildSchema, parse } from 'graphql';
import { SignJWT } from 'jose';
import { stringify } from 'yaml';
import { composeSupergraph } from '../src/composition/compose.ts';
import { buildCostModel, estimateOperationCost } from '../src/policies/limits/cost.ts';
import { LARGE_SHOP_QUERY } from '../test/fixtures/graphs/shop.ts';
import {
  adminOf,
  compareAll,
  listening,
  queryTargets,
  spawnTs,
  startSubgraphs,
  urlOf,
  type Summary,
} from './harness.ts';

/** Connections of the large case's load: a busy screen's callers, more than the other cases'. */
const LARGE_CONNECTIONS = Number(process.env.BENCH_LARGE_CONNECTIONS ?? 50);

/**
 * A request rate no gateway on a bench machine reaches with a 41 KB answer (the federation
 * case's small answer stays under a tenth of it): the rate budgets are this many requests per
 * window, so every request is decided and admitted, and none is refused.
 */
const RATE_CEILING_PER_S = 20_000;
const RATE_WINDOW_S = 60;

const ISSUER = 'https://bench.example/';
const AUDIENCE = 'bench';

/** What issue 24 asks of this gateway against the two baselines. */
function issueTargets(ours: Summary, bare: Summary, minimal: Summary): string[] {
  const met = (ok: boolean) => (ok ? 'met' : 'not met');
  const lines = [
    `throughput >= 2.5x bare: ${(ours.rps / bare.rps).toFixed(2)}x, ${met(ours.rps >= 2.5 * bare.rps)}`,
    `throughput >= 1.25x minimal: ${(ours.rps / minimal.rps).toFixed(2)}x, ${met(ours.rps >= 1.25 * minimal.rps)}`,
    `p99 <= 1/3 of bare: ${(ours.p99 / bare.p99).toFixed(2)}, ${met(ours.p99 <= bare.p99 / 3)}`,
  ];
  if (ours.peakRssMiB !== undefined && bare.peakRssMiB !== undefined)
    lines.push(
      `peak RSS <= bare: ${ours.peakRssMiB.toFixed(0)} vs ${bare.peakRssMiB.toFixed(0)} MiB, ${met(ours.peakRssMiB <= bare.peakRssMiB)}`,
    );
  else lines.push('peak RSS <= bare: unknown (no /proc)');
  return lines;
}

/**
 * Asks this gateway what shows its policies are on, and throws where one is not: a request
 * without a token is 401; one with it has the estimated cost in its extensions and RateLimit
 * headers naming both policies; the metrics endpoint counts operation costs. Returns a line.
 */
async function confirmPolicies(line: string, body: string, token: string, cost: number) {
  const url = urlOf(line);
  const post = (headers: Record<string, string>, payload = body) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: payload,
    });
  const anonymous = await post({});
  await anonymous.arrayBuffer();
  if (anonymous.status !== 401) throw new Error(`no token: ${anonymous.status}, expected 401`);
  const withCost = JSON.stringify({ ...JSON.parse(body), extensions: { cost: true } });
  const answer = await post({ authorization: `Bearer ${token}` }, withCost);
  const { extensions } = (await answer.json()) as {
    extensions?: { cost?: { estimated: number; max: number } };
  };
  const policy = answer.headers.get('ratelimit-policy') ?? '';
  if (extensions?.cost?.estimated !== cost)
    throw new Error(`estimated cost ${extensions?.cost?.estimated}, expected ${cost}`);
  if (!policy.includes('"requests"') || !policy.includes('"points"'))
    throw new Error(`RateLimit-Policy: ${policy || 'absent'}, expected both policies`);
  const metrics = await (await fetch(`${adminOf(line)}/metrics`)).text();
  const costed = /^gateway_operation_cost_count\{[^}]*\} (\d+)/m.exec(metrics)?.[1];
  if (!costed) throw new Error('no gateway_operation_cost series on /metrics');
  // Counted only when a policy refuses: present and empty says the counter is there and idle.
  if (!metrics.includes('# TYPE gateway_rate_limited_total counter'))
    throw new Error('no gateway_rate_limited_total on /metrics');
  const refused = [...metrics.matchAll(/^gateway_rate_limited_total\{[^}]*\} (\d+)/gm)].reduce(
    (sum, [, n]) => sum + Number(n),
    0,
  );
  return `policies on: no token 401; cost ${extensions.cost.estimated} (max ${extensions.cost.max}); RateLimit-Policy ${policy}; /metrics gateway_operation_cost_count ${costed}, gateway_rate_limited_total ${refused}; request log on`;
}

/**
 * This gateway's side of the large case, every policy on: its config written into `dir`, a
 * token it accepts, and the query's estimated cost (bench/profile.ts starts the same gateway).
 */
export async function largeGatewayConfig(
  dir: string,
  defs: readonly { name: string; url: string; sdl: string }[],
  supergraphSdl: string,
): Promise<{ configFile: string; token: string; cost: number }> {
  // The query's estimated cost as the gateway weighs it (list_size 10, its default: topProducts'
  // `first` is no @listSize slicing argument), to size the cost max and the points budget.
  const { cost } = estimateOperationCost(buildCostModel(supergraphSdl, 10), {
    document: parse(LARGE_SHOP_QUERY.query),
    name: undefined,
    variables: {},
    schema: buildSchema(supergraphSdl, { assumeValidSDL: true }),
  });
  const perWindow = RATE_CEILING_PER_S * RATE_WINDOW_S;
  const window = `${RATE_WINDOW_S}s`;
  const secret = randomBytes(32).toString('base64url');
  const config = {
    subgraphs: Object.fromEntries(
      defs.map((d) => [d.name, { routing_url: d.url, schema: { sdl: d.sdl } }]),
    ),
    auth: {
      surfaces: { graphql: 'required' },
      jwt: [{ issuer: ISSUER, audiences: [AUDIENCE], secret, algorithms: ['HS256'] }],
    },
    limits: {
      // The query is 4 deep, with 2 root fields, about 30 fields and 100 tokens, no alias and
      // no directive: each bound well above, so each is counted and none refuses.
      operation: {
        max_depth: 20,
        max_height: 200,
        max_root_fields: 10,
        max_aliases: 10,
        max_directives: 10,
        max_tokens: 2_000,
      },
      cost: { max: cost * 10 },
      rate: {
        policies: [
          { name: 'requests', limit: perWindow, window },
          { name: 'points', unit: 'cost', limit: perWindow * cost, window },
        ],
      },
    },
    log: { requests: true },
    metrics: { enabled: true },
  };
  const configFile = join(dir, 'large.yaml');
  await writeFile(configFile, stringify(config));
  const token = await new SignJWT({ scope: 'shop:read' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject('bench-user')
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(secret));
  return { configFile, token, cost };
}

export async function largeCase(dir: string) {
  const defs = await startSubgraphs(0, 'large');
  const { supergraphSdl } = composeSupergraph(defs.map((d) => ({ ...d, sourceName: d.name })));
  const supergraphFile = join(dir, 'large-supergraph.graphql');
  await writeFile(supergraphFile, supergraphSdl);
  const { configFile, token, cost } = await largeGatewayConfig(dir, defs, supergraphSdl);
  const [bare, minimal, ours] = await Promise.all([
    spawnTs(['bench/bare-gateway.ts', supergraphFile], listening),
    spawnTs(['bench/minimal-gateway.ts', supergraphFile], listening),
    spawnTs(['src/cli/main.ts', 'start', '--config', configFile, '--port', '0'], listening),
  ]);
  const body = JSON.stringify(LARGE_SHOP_QUERY);
  const { target, referenceText } = await queryTargets(bare, LARGE_SHOP_QUERY);
  if ((JSON.parse(referenceText) as { errors?: unknown }).errors)
    throw new Error(`the bare gateway answered errors: ${referenceText}`);
  console.log(
    `\nlarge: answer ${(Buffer.byteLength(referenceText) / 1024).toFixed(1)} KiB; ${await confirmPolicies(ours, body, token, cost)}`,
  );
  const [b, m, o] = (await compareAll(
    'large fan-out: 50 products with stock, reviews and authors, 20 users with reviews (6 fetches, 41 KB)',
    [
      target('bare @apollo/gateway', bare),
      target('bare + minimal undici fetcher', minimal),
      target('this gateway, every policy on', ours, { authorization: `Bearer ${token}` }),
    ],
    LARGE_CONNECTIONS,
  )) as [Summary, Summary, Summary];
  const each = (f: (s: Summary) => string) => `ours ${f(o)}, bare ${f(b)}, minimal ${f(m)}`;
  const fixed = (x: number | undefined) => (x === undefined ? 'n/a' : x.toFixed(0));
  console.log(`
ratio ours/bare: ${(o.rps / b.rps).toFixed(2)}x throughput; ours/minimal: ${(o.rps / m.rps).toFixed(2)}x
p99 ours/bare: ${(o.p99 / b.p99).toFixed(2)} (${o.p99} ms vs ${b.p99} ms)
CPU µs/req: ${each((s) => fixed(s.cpuUs))}
peak RSS MiB: ${each((s) => fixed(s.peakRssMiB))}
issue 24 targets:
${issueTargets(o, b, m)
  .map((l) => `  ${l}`)
  .join('\n')}`);
}
