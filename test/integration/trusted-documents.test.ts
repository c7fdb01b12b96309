import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { ReloadOutcome } from '../../src/runtime/snapshot-manager.ts';
import { SHOP } from '../fixtures/graphs/shop.ts';
import { assertApqFlow, byHash, codeOf, sha256 } from '../helpers/apq.ts';
import {
  get,
  post,
  startSubgraphs,
  startTestGateway,
  writeProject,
  type TestGateway,
} from '../helpers/env.ts';

const ME = 'query Me { me { name } }';
const PRODUCTS = 'query Products { topProducts { upc } }';
const apolloManifest = (bodies: string[]) =>
  JSON.stringify({
    format: 'apollo-persisted-query-manifest',
    version: 1,
    operations: bodies.map((body) => ({
      id: sha256(body),
      name: /query (\w+)/.exec(body)?.[1],
      type: 'query',
      body,
    })),
  });

/** Subgraphs, a project with `config` and `files`, and the gateway over them. */
async function startProject(config: Record<string, unknown>, files: Record<string, string>) {
  const subgraphs = await startSubgraphs(SHOP, 0);
  const project = await writeProject(subgraphs.servers, config);
  for (const [name, text] of Object.entries(files)) await project.write(name, text);
  const gateway = await startTestGateway({ configFile: project.configFile });
  return {
    project,
    gateway,
    close: async () => {
      await gateway.close();
      await subgraphs.close();
      await project.remove();
    },
  };
}

/** A gateway trusting a manifest listing ME, with `persisted` and `server` settings added. */
function startWith(persisted: Record<string, unknown>, server: Record<string, unknown> = {}) {
  return startProject(
    {
      persisted_documents: { manifest: './manifest.json', ...persisted },
      server: { hot_reload: true, ...server },
    },
    { 'manifest.json': apolloManifest([ME]) },
  );
}

describe('trusted documents with a manifest and APQ', () => {
  let env: Awaited<ReturnType<typeof startWith>>;
  let gateway: TestGateway;
  // 100 bytes: room for the three short documents of the eviction test, not for a fourth.
  before(async () => {
    env = await startWith({}, { apq_cache: { max_size: 100 }, batching: { enabled: true } });
    gateway = env.gateway;
  });
  after(() => env.close());

  test('a manifest id sent as extensions.persistedQuery runs its document without a query', async () => {
    const res = await post(gateway.url, byHash(sha256(ME)));
    assert.equal(res.status, 200);
    assert.deepEqual(res.json.data, { me: { name: 'Ada Lovelace' } });
  });

  test('a manifest id sent as documentId runs its document, by POST and by GET', async () => {
    const posted = await post(gateway.url, { documentId: sha256(ME) });
    assert.deepEqual(posted.json.data, { me: { name: 'Ada Lovelace' } });
    const prefixed = await post(gateway.url, { documentId: `sha256:${sha256(ME)}` });
    assert.deepEqual(prefixed.json.data, { me: { name: 'Ada Lovelace' } });
    const got = await get(`${gateway.url}?documentId=${sha256(ME)}`, {
      accept: 'application/json',
      // Apollo Server's CSRF prevention: a GET must show it is not a simple cross-site request.
      'apollo-require-preflight': 'true',
    });
    assert.equal(got.status, 200, got.text);
    assert.deepEqual(got.json.data, { me: { name: 'Ada Lovelace' } });
  });

  test('in a batch each operation is resolved alone: a listed id runs, an unknown one is its own error', async () => {
    const res = await post(gateway.url, [{ documentId: sha256(ME) }, { documentId: 'nope' }]);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json[0].data, { me: { name: 'Ada Lovelace' } });
    assert.equal(codeOf(res.json[1]), 'PERSISTED_QUERY_NOT_IN_LIST');
  });

  test('an unknown documentId is refused with 404 PERSISTED_QUERY_NOT_IN_LIST', async () => {
    const res = await post(gateway.url, { documentId: sha256('{ nope }') });
    assert.equal(res.status, 404);
    assert.equal(codeOf(res.json), 'PERSISTED_QUERY_NOT_IN_LIST');
  });

  test('APQ: a miss, a registration, then a hit; a mismatched hash is refused and not registered', async () => {
    const data = (await assertApqFlow(gateway.url, PRODUCTS, ME)) as any;
    assert.equal(data.topProducts.length > 0, true);
  });

  test('the APQ cache is bounded: past server.apq_cache.max_size bytes the oldest document is evicted', async () => {
    const docs = [
      'query A { me { id } }',
      'query B { me { name } }',
      'query C { me { username } }',
    ];
    for (const query of docs) await post(gateway.url, { query, ...byHash(sha256(query)) });
    // PRODUCTS (38 bytes), then 21 + 23 + 27: 109 bytes over the bound of 100 evicts PRODUCTS.
    assert.equal(
      codeOf((await post(gateway.url, byHash(sha256(PRODUCTS)))).json),
      'PERSISTED_QUERY_NOT_FOUND',
    );
    const last = await post(gateway.url, byHash(sha256(docs[2] as string)));
    assert.deepEqual(last.json.data, { me: { username: 'ada' } });
  });

  test('a reloaded manifest in the codegen format is served at once, and the old ids are gone', async () => {
    const reloaded = once(gateway.running.app.manager, 'reload');
    await env.project.write('manifest.json', JSON.stringify({ [sha256(PRODUCTS)]: PRODUCTS }));
    assert.equal(((await reloaded) as [ReloadOutcome])[0].ok, true);
    const res = await post(gateway.url, { documentId: sha256(PRODUCTS) });
    assert.equal(res.json.data.topProducts.length > 0, true);
    const old = await post(gateway.url, { documentId: sha256(ME) });
    assert.equal(codeOf(old.json), 'PERSISTED_QUERY_NOT_IN_LIST');
  });
});

describe('persisted_only: the manifest as a safelist', () => {
  let env: Awaited<ReturnType<typeof startWith>>;
  before(async () => {
    env = await startWith({ persisted_only: true, apq: false });
  });
  after(() => env.close());

  test('a raw document not in the manifest is refused with 403 QUERY_NOT_IN_SAFELIST', async () => {
    const res = await post(env.gateway.url, { query: PRODUCTS });
    assert.equal(res.status, 403);
    assert.equal(codeOf(res.json), 'QUERY_NOT_IN_SAFELIST');
    assert.match(res.json.errors[0].message, /persisted document list/);
  });

  test('manifest ids and the listed document itself are served', async () => {
    for (const body of [{ documentId: sha256(ME) }, byHash(sha256(ME)), { query: ME }]) {
      const res = await post(env.gateway.url, body);
      assert.deepEqual(res.json.data, { me: { name: 'Ada Lovelace' } }, JSON.stringify(body));
    }
  });

  test('with apq off, a hash that is not listed is not found and cannot be registered', async () => {
    const hash = sha256(PRODUCTS);
    const res = await post(env.gateway.url, byHash(hash));
    assert.equal(res.status, 404);
    assert.equal(codeOf(res.json), 'PERSISTED_QUERY_NOT_IN_LIST');
    const register = await post(env.gateway.url, { query: PRODUCTS, ...byHash(hash) });
    assert.equal(codeOf(register.json), 'QUERY_NOT_IN_SAFELIST');
  });
});

describe("a client's own persisted_documents", () => {
  // Top level: persisted_only with ME listed. mobile: persisted_only with its own manifest
  // (PRODUCTS only); web: raw documents and APQ; partner: nothing of its own.
  let env: Awaited<ReturnType<typeof startWith>>;
  const at = (id: string) => `${env.gateway.url}/${id}`;
  before(async () => {
    env = await startProject(
      {
        persisted_documents: { manifest: './manifest.json', persisted_only: true, apq: false },
        clients: {
          mobile: {
            persisted_documents: {
              manifest: './mobile.json',
              persisted_only: true,
              apq: false,
            },
          },
          web: { persisted_documents: { apq: true } },
          partner: {},
        },
        server: { hot_reload: true },
      },
      { 'manifest.json': apolloManifest([ME]), 'mobile.json': apolloManifest([PRODUCTS]) },
    );
  });
  after(() => env.close());

  test('mobile refuses a raw document with 403 QUERY_NOT_IN_SAFELIST and serves its manifest id', async () => {
    const raw = await post(at('mobile'), { query: ME });
    assert.equal(raw.status, 403);
    assert.equal(codeOf(raw.json), 'QUERY_NOT_IN_SAFELIST');
    const listed = await post(at('mobile'), { documentId: sha256(PRODUCTS) });
    assert.equal(listed.status, 200, listed.text);
    assert.equal(listed.json.data.topProducts.length > 0, true);
    // The top-level manifest is not mobile's.
    const other = await post(at('mobile'), { documentId: sha256(ME) });
    assert.equal(codeOf(other.json), 'PERSISTED_QUERY_NOT_IN_LIST');
  });

  test('web, with raw documents allowed, serves a raw document', async () => {
    const res = await post(at('web'), { query: PRODUCTS });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.data.topProducts.length > 0, true);
  });

  test('a client without its own gets the top-level settings', async () => {
    const raw = await post(at('partner'), { query: PRODUCTS });
    assert.equal(raw.status, 403);
    assert.equal(codeOf(raw.json), 'QUERY_NOT_IN_SAFELIST');
    const listed = await post(at('partner'), { documentId: sha256(ME) });
    assert.deepEqual(listed.json.data, { me: { name: 'Ada Lovelace' } });
  });

  test('a reloaded client manifest is served at once, and the old ids are gone', async () => {
    const reloaded = once(env.gateway.running.app.manager, 'reload');
    await env.project.write('mobile.json', JSON.stringify({ [sha256(ME)]: ME }));
    assert.equal(((await reloaded) as [ReloadOutcome])[0].ok, true);
    const res = await post(at('mobile'), { documentId: sha256(ME) });
    assert.deepEqual(res.json.data, { me: { name: 'Ada Lovelace' } });
    const old = await post(at('mobile'), { documentId: sha256(PRODUCTS) });
    assert.equal(codeOf(old.json), 'PERSISTED_QUERY_NOT_IN_LIST');
  });
});
