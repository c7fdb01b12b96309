// The response and entity caches in one gateway (docs/caching.md): hints from subgraph SDL and
// the config, the minimum-max-age rule, private data per verified caller (two real tokens),
// entities shared between queries, one fetch for a stampede, invalidation by mutation and by the
// admin endpoint. Real subgraphs on 127.0.0.1:0 count what reaches them.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { request } from 'undici';
import { productsData, productsSubgraph, reviewsSubgraph } from '../fixtures/graphs/catalog.ts';
import { post, startGatewayOver, type GatewayOver } from '../helpers/env.ts';

const SECRET = 'a-test-secret-of-at-least-32-characters!';
const ISSUER = 'https://id.cache.test/';
const ADMIN_TOKEN = 'an-admin-token-for-the-cache-tests';

async function token(subject: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setIssuer(ISSUER)
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(SECRET));
}

/** Representations the reviews subgraph was asked for, in order. */
function representationsAsked(over: GatewayOver): number {
  return over.subgraphs.byName('reviews').received.filter((r) => r.query.includes('_entities'))
    .length;
}

function fetchesOf(over: GatewayOver, subgraph: string, field: string): number {
  return over.subgraphs.byName(subgraph).received.filter((r) => r.query.includes(field)).length;
}

describe('the response and entity caches', () => {
  let over: GatewayOver;
  let products: ReturnType<typeof productsData>;
  before(async () => {
    products = productsData();
    over = await startGatewayOver([productsSubgraph(products), reviewsSubgraph()], {
      config: {
        cache: {
          enabled: true,
          hints: {
            types: { Stock: { max_age: 60 } },
            fields: {
              'Query.stock': { max_age: 2 },
              'Query.deals': { max_age: 1, stale_while_revalidate: 30 },
            },
          },
          response: { client_no_cache: true },
        },
        auth: {
          jwt: [{ issuer: ISSUER, audiences: [], secret: SECRET, algorithms: ['HS256'] }],
        },
        server: { admin: { token: ADMIN_TOKEN } },
        // One call per query reaches a subgraph: what the counts below read.
        traffic: { dedup: { enabled: false } },
      },
    });
  });
  after(() => over.close());
  beforeEach(async () => {
    for (const server of over.subgraphs.servers) server.received.length = 0;
    await invalidate({ types: ['Product', 'Viewer', 'Stock', 'Query', 'Review'] });
  });

  const query = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    post(over.gateway.url, body, headers);

  async function invalidate(body: unknown, token = ADMIN_TOKEN) {
    const response = await request(`${over.gateway.adminOrigin}/cache/invalidate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    return { status: response.statusCode, json: (await response.body.json()) as any };
  }

  test('a second identical query is served from the cache with Cache-Control and Age', async () => {
    const first = await query({ query: '{ topProducts { id name } }' });
    assert.equal(first.status, 200);
    // The field's hint (60) replaces its type's (Product, 30), as Apollo's rules say.
    assert.equal(first.headers['cache-control'], 'max-age=60, public');
    assert.equal(first.headers.age, undefined);
    const second = await query({ query: '{ topProducts { id name } }' });
    assert.deepEqual(second.json, first.json);
    assert.equal(second.headers['cache-control'], 'max-age=60, public');
    assert.equal(second.headers.age, '0');
    assert.equal(fetchesOf(over, 'products', 'topProducts'), 1);
  });

  test('an entry expires after its max-age, and Age counts the seconds it was kept', async () => {
    // 2 s of max-age from the config: the only way to see expiry is to let it pass.
    const short = { query: '{ stock { level } }' };
    const first = await query(short);
    // The config's hint on the field is over the SDL's 60.
    assert.equal(first.headers['cache-control'], 'max-age=2, public');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const aged = await query(short);
    assert.equal(aged.headers.age, '1');
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const expired = await query(short);
    assert.equal(expired.headers.age, undefined);
    assert.equal(fetchesOf(over, 'products', 'stock'), 2);
  });

  test('the policy is the minimum max-age over the types and fields the answer touched', async () => {
    const nested = await query({ query: '{ topProducts { name reviews { body } } }' });
    assert.equal(nested.status, 200);
    // Query.topProducts 60 (over Product's 30), Product.reviews takes Review's 20.
    assert.equal(nested.headers['cache-control'], 'max-age=20, public');
  });

  test('private data is cached per verified caller and never served to another or to anonymous callers', async () => {
    const [alice, bob] = await Promise.all([token('alice'), token('bob')]);
    const me = { query: '{ me { name } }' };
    const asAlice = await query(me, { authorization: `Bearer ${alice}` });
    assert.equal(asAlice.json.data.me.name, 'the account of alice');
    assert.equal(asAlice.headers['cache-control'], 'max-age=60, private');
    const again = await query(me, { authorization: `Bearer ${alice}` });
    assert.equal(again.json.data.me.name, 'the account of alice');
    assert.equal(again.headers.age, '0');
    const asBob = await query(me, { authorization: `Bearer ${bob}` });
    assert.equal(asBob.json.data.me.name, 'the account of bob');
    assert.equal(asBob.headers.age, undefined);
    const anonymous = await query(me);
    assert.equal(anonymous.json.data.me.name, 'the account of nobody');
    assert.equal(anonymous.headers.age, undefined);
    const anonymousAgain = await query(me);
    assert.equal(anonymousAgain.headers.age, undefined);
    // alice once, bob once, the anonymous caller twice: never cached for them.
    assert.equal(fetchesOf(over, 'products', 'me'), 4);
  });

  test('an answer stored for a caller allowed a field is never served to one who is not', async () => {
    const alice = await token('alice');
    const body = { query: '{ product(id: "2") { name cost } }' };
    const allowed = await query(body, { authorization: `Bearer ${alice}` });
    assert.deepEqual(allowed.json, { data: { product: { name: 'Chair', cost: 25 } } });
    assert.equal((await query(body, { authorization: `Bearer ${alice}` })).headers.age, '0');
    const anonymous = await query(body);
    assert.deepEqual(anonymous.json.data, { product: { name: 'Chair', cost: null } });
    assert.equal(anonymous.json.errors[0].extensions.code, 'UNAUTHENTICATED');
    assert.equal(anonymous.headers.age, undefined);
  });

  test('two different queries share the entities they have in common', async () => {
    await query({ query: '{ topProducts { name reviews { body } } }' });
    assert.equal(representationsAsked(over), 1);
    const other = await query({ query: '{ product(id: "1") { reviews { body } } }' });
    assert.deepEqual(other.json.data, { product: { reviews: [{ body: 'review of 1' }] } });
    // Product 1's reviews came from the entity cache: the reviews subgraph was not asked again.
    assert.equal(representationsAsked(over), 1);
  });

  test('an answer with errors is not cached', async () => {
    const body = { query: '{ broken { name } }' };
    const first = await query(body);
    assert.ok(first.json.errors);
    assert.equal(first.headers['cache-control'], 'no-store');
    await query(body);
    assert.equal(fetchesOf(over, 'products', 'broken'), 2);
  });

  test('a client’s Cache-Control: no-cache fetches again and stores the fresh answer', async () => {
    const body = { query: '{ topProducts { id } }' };
    await query(body);
    const refreshed = await query(body, { 'cache-control': 'no-cache' });
    assert.equal(refreshed.headers.age, undefined);
    const after = await query(body);
    assert.equal(after.headers.age, '0');
    assert.equal(fetchesOf(over, 'products', 'topProducts'), 2);
  });

  test('a mutation invalidates the entities its result names, in every cached answer holding them', async () => {
    const read = { query: '{ product(id: "3") { id name } }' };
    await query(read);
    assert.equal((await query(read)).headers.age, '0');
    const renamed = await query({
      query: 'mutation { renameProduct(id: "3", name: "Desk lamp") { id name } }',
    });
    assert.equal(renamed.json.data.renameProduct.name, 'Desk lamp');
    assert.equal(renamed.headers['cache-control'], 'no-store');
    const fresh = await query(read);
    assert.equal(fresh.headers.age, undefined);
    assert.equal(fresh.json.data.product.name, 'Desk lamp');
  });

  test('the admin endpoint invalidates by type, key and tag, with the bearer token only', async () => {
    const top = { query: '{ topProducts { name } }' };
    await query(top);
    assert.equal((await query(top)).headers.age, '0');
    // The response, and the root-field fetch under it in the entity cache.
    assert.deepEqual(await invalidate({ tags: ['top'] }), { status: 200, json: { removed: 2 } });
    assert.equal((await query(top)).headers.age, undefined);

    const one = { query: '{ product(id: "1") { id price } }' };
    await query(one);
    const byKey = await invalidate({ keys: [{ type: 'Product', key: { id: 1 } }] });
    assert.equal(byKey.status, 200);
    assert.ok(byKey.json.removed >= 1);
    assert.equal((await query(one)).headers.age, undefined);

    const refused = await invalidate({ types: ['Product'] }, 'not-the-token');
    assert.equal(refused.status, 401);
    assert.equal(refused.json.details[0].reason, 'UNAUTHENTICATED');
    const malformed = await invalidate({ colours: ['red'] });
    assert.equal(malformed.status, 400);
    assert.match(malformed.json.message, /unknown field colours/);
  });

  test('100 concurrent misses of one key make one backend fetch', async () => {
    const body = { query: '{ product(id: "2") { id name price } }' };
    const answers = await Promise.all(Array.from({ length: 100 }, () => query(body)));
    for (const answer of answers) assert.equal(answer.json.data.product.name, 'Chair');
    assert.equal(fetchesOf(over, 'products', 'product('), 1);
  });

  test('a stale entry is served while one request refreshes it (stale-while-revalidate)', async () => {
    const deals = { query: '{ deals { id name } }' };
    const first = await query(deals);
    assert.equal(first.headers['cache-control'], 'max-age=1, public, stale-while-revalidate=30');
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    // Both find it stale: the first refreshes it (the subgraph takes 300 ms), the second is
    // served the stale entry at once.
    const refresher = query(deals);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stale = await query(deals);
    assert.equal(stale.headers.age, '1');
    assert.deepEqual(stale.json, first.json);
    const refreshed = await refresher;
    assert.equal(refreshed.headers.age, undefined);
    assert.equal((await query(deals)).headers.age, '0');
    assert.equal(fetchesOf(over, 'products', 'deals'), 2);
  });

  test('a subgraph’s Cache-Control narrows the policy: a shorter max-age, or no-store', async () => {
    const prices = await query({ query: '{ prices { id price } }' });
    assert.equal(prices.headers['cache-control'], 'max-age=5, public');
    assert.equal((await query({ query: '{ prices { id price } }' })).headers.age, '0');
    const flash = await query({ query: '{ flash { id } }' });
    assert.equal(flash.headers['cache-control'], 'no-store');
    await query({ query: '{ flash { id } }' });
    assert.equal(fetchesOf(over, 'products', 'flash'), 2);
  });

  test('the log line and the metrics say what the caches served', async () => {
    const body = { query: '{ product(id: "1") { id name reviews { body } } }' };
    await query(body);
    await query(body, { 'x-correlation-id': 'cache-hit-line' });
    const line = await over.gateway.logs.find((l) => l.correlationId === 'cache-hit-line');
    assert.deepEqual(line.cache, { response: 'hit' });
    const other = { query: '{ product(id: "1") { reviews { body } } }' };
    await query(other, { 'x-correlation-id': 'entity-hit-line' });
    const entityLine = await over.gateway.logs.find((l) => l.correlationId === 'entity-hit-line');
    // Its root fetch selects other fields (a miss); Product 1's reviews were fetched before (a hit).
    assert.deepEqual(entityLine.cache, { response: 'miss', entities: { hits: 1, misses: 1 } });
    const metrics = (
      await request(`${over.gateway.adminOrigin}/metrics`).then((r) => r.body.text())
    ).split('\n');
    const value = (labels: string) =>
      Number(
        metrics
          .find((l) => l.startsWith(`gateway_cache_lookups_total{${labels}}`))
          ?.split(' ')
          .pop(),
      );
    assert.ok(value('cache="response",type="Query",result="hit"') >= 1);
    assert.ok(value('cache="entity",type="Product",result="hit"') >= 1);
    assert.ok(metrics.some((l) => /^gateway_cache_bytes\{cache="response"\} [1-9]/.test(l)));
  });
});
