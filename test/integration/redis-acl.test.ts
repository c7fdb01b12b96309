import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { productsSubgraph, reviewsSubgraph } from '../fixtures/graphs/catalog.ts';
import { byHash, sha256 } from '../helpers/apq.ts';
import { get, post, startSubgraphs, startTestGateway, writeProject } from '../helpers/env.ts';
import { OwnRedis, uniquePrefix } from '../helpers/redis.ts';

const ADMIN_TOKEN = 'an-admin-token-for-the-acl-test';

/**
 * The commands the gateway sends, as the deployment docs list them for an ACL user: a
 * connection's handshake, the limit script (and the commands it runs: Redis checks a script's
 * commands against the user too), the cache's reads, writes, lock and invalidation script,
 * and APQ's GET/SET. Kept here so the list cannot drift from what the stores send.
 */
const GATEWAY_COMMANDS = [
  // Handshake (ioredis): HELLO with AUTH, SELECT for a db other than 0, INFO for the ready check.
  // It also sends CLIENT SETINFO (Redis 7.2 on) and ignores a refusal, so it is left out here.
  '+hello',
  '+auth',
  '+select',
  '+info',
  // The limit script, sent by hash and whole once after a restart, and what it runs.
  '+evalsha',
  '+eval',
  '+time',
  '+get',
  '+set',
  '+del',
  '+exists',
  '+zadd',
  '+zrange',
  '+zrangebyscore',
  '+zremrangebyscore',
  '+zrem',
  '+pexpire',
  // The cache: MGET, a MULTI of SET/SADD/PEXPIRE, SET NX for its lock, the invalidation and
  // unlock scripts (SMEMBERS, DEL, GET).
  '+mget',
  '+multi',
  '+exec',
  '+sadd',
  '+smembers',
];

/**
 * A Redis whose only user for the gateway is an ACL user with GATEWAY_COMMANDS on the gateway's
 * key prefix: rate limits, the cache (store, hit, invalidation) and APQ all work through it,
 * and no store ever falls back.
 */
test('an ACL user allowed only the documented commands on the key prefix serves every store', async (t) => {
  const prefix = uniquePrefix('acl');
  const rules = ['on', '>acl-s3cret', `~${prefix}*`, 'resetchannels', '-@all', ...GATEWAY_COMMANDS];
  const redis = await OwnRedis.start(['--user', 'gateway', ...rules]);
  t.after(() => redis.kill());
  const subgraphs = await startSubgraphs([productsSubgraph(), reviewsSubgraph()]);
  t.after(() => subgraphs.close());
  const project = await writeProject(subgraphs.servers, {
    server: { admin: { token: ADMIN_TOKEN }, apq_cache: { store: 'redis', ttl: '1m' } },
    limits: {
      store: { kind: 'redis', on_unavailable: 'refuse' },
      rate: { policies: [{ name: 'requests', limit: 100, window: '60s' }] },
    },
    cache: { enabled: true, store: 'redis' },
    redis: {
      url: `redis://gateway:acl-s3cret@127.0.0.1:${redis.port}/0`,
      key_prefix: prefix,
      command_timeout: '1s',
    },
  });
  t.after(() => project.remove());
  const gateway = await startTestGateway({ configFile: project.configFile });
  t.after(() => gateway.close());
  await gateway.logs.find((l) => l.msg === 'limit store connected');

  const top = { query: '{ topProducts { id name } }' };
  const miss = await post(gateway.url, top);
  assert.equal(miss.status, 200, miss.text);
  assert.match(String(miss.headers.ratelimit ?? ''), /"requests";r=99;/);
  const hit = await post(gateway.url, top);
  assert.equal(hit.headers.age, '0', 'a hit from Redis');
  const invalidated = await request(`${gateway.adminOrigin}/cache/invalidate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ tags: ['top'] }),
  });
  assert.equal(invalidated.statusCode, 200, await invalidated.body.text());
  assert.equal((await post(gateway.url, top)).headers.age, undefined, 'a miss after it');

  const document = '{ product(id: "1") { id name } }';
  const hash = sha256(document);
  assert.equal((await post(gateway.url, { query: document, ...byHash(hash) })).status, 200);

  const metrics = (await get(`${gateway.adminOrigin}/metrics`)).text;
  const fallbacks = metrics
    .split('\n')
    .filter((l) => /^gateway_\w+_fallbacks_total/.test(l) && !l.endsWith(' 0'));
  assert.deepEqual(fallbacks, [], 'no store fell back: Redis accepted every command');
  for (const name of ['limit', 'cache', 'apq'])
    assert.match(metrics, new RegExp(`gateway_${name}_store_up\\{store="redis"\\} 1`));
});
