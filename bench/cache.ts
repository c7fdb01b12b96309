// The `cache` case of `npm run bench` (bench/run.ts), only when named in BENCH_CASES: six targets
// of ROUNDS x DURATION_S each, about three and a half minutes at the defaults, and it needs Redis
// (REDIS_URL, else loopback's 6379).
//
//   bare                     the bare @apollo/gateway + @apollo/server of the federation case
//   uncached                 this gateway, cache off (its defaults)
//   response hit (memory)    cache on, the federation query hinted cacheable: every request after
//                            the first is a response-cache hit
//   entity warm (memory)     the same cache with the response cache off, warmed by the federation
//                            query, loaded with another query (search) whose subgraph fetches
//                            the entity cache answers: it plans and runs, no backend is called
//   response hit (Redis), entity warm (Redis)   the same two with `cache.store: redis`
import { deepStrictEqual } from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { composeSupergraph } from '../src/composition/compose.ts';
import { SHOP_QUERIES } from '../test/fixtures/graphs/shop.ts';
import { deleteKeys } from '../test/helpers/redis.ts';
import {
  adminOf,
  compareAll,
  federationTargets,
  listening,
  pidOf,
  spawnTs,
  startSubgraphs,
  urlOf,
  type Summary,
  type Target,
} from './harness.ts';

const FEDERATION_BODY = JSON.stringify(SHOP_QUERIES['entities across four subgraphs']);

/**
 * The entity targets' load: the products and their reviews and authors through `search` instead
 * of `topProducts` (every product's name contains the empty string, so the same four, in the
 * same order), with each type's selection as the federation query has it. The root fetch is a
 * different one, but the plan's `_entities` fetches to inventory, reviews and accounts are the
 * federation query's, so the entries it stored answer them.
 */
const OTHER_SHAPE_BODY = JSON.stringify({
  query: `{ search(text: "") { ... on Book { upc name price pages inStock shippingEstimate reviews { body author { username name } } } ... on Furniture { upc name price material inStock shippingEstimate reviews { body author { username } } } } }`,
});

/**
 * Hints that make both queries cacheable: without them every root field and object field gets
 * `default_max_age` 0 and nothing is stored. An hour, so no entry expires during a run.
 */
const MAX_AGE = { max_age: 3600 };
const HINTS = {
  types: Object.fromEntries(
    ['Product', 'Book', 'Furniture', 'SearchResult', 'Review', 'User'].map((t) => [t, MAX_AGE]),
  ),
  fields: { 'Query.topProducts': MAX_AGE, 'Query.search': MAX_AGE },
};

/** `gateway_cache_lookups_total` of one cache, summed by result and by entry type. */
async function lookups(line: string, cache: 'response' | 'entity') {
  const text = await (await fetch(`${adminOf(line)}/metrics`)).text();
  const byResult: Record<string, number> = {};
  const byType: Record<string, Record<string, number>> = {};
  const pattern = new RegExp(
    `^gateway_cache_lookups_total\\{cache="${cache}",type="([^"]*)",result="([^"]*)"\\} (\\d+)`,
    'gm',
  );
  for (const [, type = '', result = '', count] of text.matchAll(pattern)) {
    byResult[result] = (byResult[result] ?? 0) + Number(count);
    (byType[type] ??= {})[result] = Number(count);
  }
  return { byResult, byType };
}

async function post(url: string, body: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  return { age: response.headers.get('age'), answer: JSON.parse(await response.text()) as unknown };
}

/** The answer is exactly `expected`, as parsed JSON. */
const equalTo = (expected: unknown) => (text: string) =>
  deepStrictEqual(JSON.parse(text), expected, `unexpected answer:\n${text}`);

/**
 * A response-hit target: its first answer stored, its second served from the response cache
 * (an `Age` header only a hit carries), both the uncached gateway's answer.
 */
async function verifyResponseHits(name: string, line: string, expected: unknown) {
  const first = await post(urlOf(line), FEDERATION_BODY);
  const second = await post(urlOf(line), FEDERATION_BODY);
  deepStrictEqual(first.answer, expected, `${name}: first answer differs from uncached`);
  deepStrictEqual(second.answer, expected, `${name}: second answer differs from uncached`);
  if (second.age === null) throw new Error(`${name}: second answer has no Age: not a cache hit`);
  const { byResult } = await lookups(line, 'response');
  if (!byResult.hit) throw new Error(`${name}: /metrics counts no response hit`);
  console.log(
    `${name}: second answer Age ${second.age}, response lookups ${JSON.stringify(byResult)}`,
  );
}

/**
 * An entity-warm target: warmed by one federation query, then the other shape's first request
 * must find every entity it fetches in the cache (only its root fetch, a query of its own,
 * misses) and answer as the uncached gateway does.
 */
async function verifyEntityHits(name: string, line: string, expected: unknown) {
  const warm = await post(urlOf(line), FEDERATION_BODY);
  if (warm.age !== null) throw new Error(`${name}: the response cache answered (Age ${warm.age})`);
  const before = await lookups(line, 'entity');
  const other = await post(urlOf(line), OTHER_SHAPE_BODY);
  deepStrictEqual(other.answer, expected, `${name}: answer differs from uncached`);
  const after = await lookups(line, 'entity');
  const delta = Object.fromEntries(
    Object.entries(after.byType).map(([type, results]) => [
      type,
      Object.fromEntries(
        Object.entries(results)
          .map(([result, n]) => [result, n - (before.byType[type]?.[result] ?? 0)] as const)
          .filter(([, n]) => n > 0),
      ),
    ]),
  );
  const entityMisses = Object.entries(delta)
    .filter(([type]) => type !== 'Query')
    .reduce((sum, [, results]) => sum + (results.miss ?? 0), 0);
  const hits = Object.values(delta).reduce((sum, results) => sum + (results.hit ?? 0), 0);
  if (hits === 0 || entityMisses > 0)
    throw new Error(
      `${name}: the other shape's first request was not answered by the entities the federation query stored: ${JSON.stringify(delta)}`,
    );
  console.log(`${name}: other shape's first request, entity lookups ${JSON.stringify(delta)}`);
}

/** Against a baseline: throughput, CPU per request and p99. */
const ratioOf = (s: Summary, base: Summary) => {
  const cpu =
    s.cpuUs !== undefined && base.cpuUs !== undefined
      ? `, ${(base.cpuUs / s.cpuUs).toFixed(2)}x less CPU/request`
      : '';
  return `${(s.rps / base.rps).toFixed(2)}x throughput${cpu}, p99 ${s.p99} vs ${base.p99} ms`;
};

export async function cacheCase(dir: string) {
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  const prefix = `gateway-bench-cache:${process.pid}:${randomBytes(4).toString('hex')}:`;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  // Redis down would not fail a request: every lookup would be a miss, and the Redis targets
  // would measure the fallback instead of the cache.
  await redis.ping();
  try {
    const defs = await startSubgraphs();
    const { supergraphSdl } = composeSupergraph(defs.map((d) => ({ ...d, sourceName: d.name })));
    const supergraphFile = join(dir, 'cache-supergraph.graphql');
    await writeFile(supergraphFile, supergraphSdl);
    const subgraphs = Object.fromEntries(
      defs.map((d) => [d.name, { routing_url: d.url, schema: { sdl: d.sdl } }]),
    );
    const start = async (name: string, config: object) => {
      const file = join(dir, `cache-${name}.yaml`);
      await writeFile(file, stringify({ subgraphs, ...config }));
      return spawnTs(['src/cli/main.ts', 'start', '--config', file, '--port', '0'], listening);
    };
    const cached = (store: 'memory' | 'redis', response: boolean, keyPrefix: string) => ({
      cache: { enabled: true, store, hints: HINTS, response: { enabled: response } },
      // Each Redis gateway under its own prefix: the entity gateway must find only what its
      // own warm-up stored, not the response gateway's entity entries.
      ...(store === 'redis' ? { redis: { url: redisUrl, key_prefix: keyPrefix } } : {}),
    });
    const [bare, uncached, responseMemory, entityMemory, responseRedis, entityRedis] =
      await Promise.all([
        spawnTs(['bench/bare-gateway.ts', supergraphFile], listening),
        start('uncached', {}),
        start('response-memory', cached('memory', true, '')),
        start('entity-memory', cached('memory', false, '')),
        start('response-redis', cached('redis', true, `${prefix}response:`)),
        start('entity-redis', cached('redis', false, `${prefix}entity:`)),
      ]);
    const target = await federationTargets(uncached);
    const federationAnswer = (await post(urlOf(uncached), FEDERATION_BODY)).answer;
    const otherAnswer = (await post(urlOf(uncached), OTHER_SHAPE_BODY)).answer;
    await verifyResponseHits('response hit (memory)', responseMemory, federationAnswer);
    await verifyResponseHits('response hit (Redis)', responseRedis, federationAnswer);
    await verifyEntityHits('entity warm (memory)', entityMemory, otherAnswer);
    await verifyEntityHits('entity warm (Redis)', entityRedis, otherAnswer);
    const otherShape = (name: string, line: string): Target => ({
      name,
      url: urlOf(line),
      pid: pidOf.get(line),
      method: 'POST',
      body: OTHER_SHAPE_BODY,
      check: equalTo(otherAnswer),
    });
    const targets: Target[] = [
      target('bare @apollo/gateway', bare),
      target('uncached', uncached),
      { ...target('response hit (memory)', responseMemory), check: equalTo(federationAnswer) },
      otherShape('entity warm (memory)', entityMemory),
      { ...target('response hit (Redis)', responseRedis), check: equalTo(federationAnswer) },
      otherShape('entity warm (Redis)', entityRedis),
    ];
    const summaries = await compareAll(
      'cache: the federation query (bare, uncached, response hits) and the entity targets’ search query over the entities it stored, memory and Redis stores',
      targets,
    );
    const [bareSummary, uncachedSummary] = summaries as [Summary, Summary];
    console.log('\nagainst bare @apollo/gateway | against uncached:');
    for (const [i, t] of targets.entries()) {
      if (i === 0) continue;
      const s = summaries[i] as Summary;
      const vsUncached = i === 1 ? '' : ` | ${ratioOf(s, uncachedSummary)}`;
      console.log(`  ${t.name.padEnd(22)} ${ratioOf(s, bareSummary)}${vsUncached}`);
    }
    // Hits under the load, not only before it: a cache that stopped hitting (evicted, expired,
    // keyed on something that varies) would show here as misses.
    console.log('\nlookups over the whole case (/metrics):');
    for (const [name, line] of [
      ['response hit (memory)', responseMemory],
      ['entity warm (memory)', entityMemory],
      ['response hit (Redis)', responseRedis],
      ['entity warm (Redis)', entityRedis],
    ] as const) {
      const [response, entity] = await Promise.all([
        lookups(line, 'response'),
        lookups(line, 'entity'),
      ]);
      console.log(
        `  ${name.padEnd(22)} response ${JSON.stringify(response.byResult)}  entity ${JSON.stringify(entity.byResult)}`,
      );
    }
  } finally {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  }
}
