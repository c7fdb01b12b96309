import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ReloadOutcome } from '../../src/runtime/snapshot-manager.ts';
import { SHOP } from '../fixtures/graphs/shop.ts';
import { get, post, startGatewayOver, type GatewayOver } from '../helpers/env.ts';

/**
 * Hot reload, in the order an operator lives it: a good change, a YAML typo, a schema change that
 * does not compose, then the fix. Each step is awaited on the reload event, not on a timer.
 */
describe('hot reload of supergraph.yaml and schema files', () => {
  let env: GatewayOver;
  let originalConfig: string;

  const reviewsQuery = { query: '{ latestReviews { id author { username } } }' };
  const nextReload = () =>
    once(env.gateway.running.app.manager, 'reload').then(([o]) => o as ReloadOutcome);
  const readyz = async () => (await get(`${env.gateway.adminOrigin}/readyz`)).json;

  before(async () => {
    env = await startGatewayOver(SHOP, { delayMs: 0 });
    originalConfig = await readFile(env.project.configFile, 'utf8');
  });

  after(() => env.close());

  test('a good change to supergraph.yaml is served without a restart', async () => {
    const before = await readyz();
    const config = {
      federation_version: '=2.3.0',
      subgraphs: Object.fromEntries(
        env.subgraphs.servers
          .filter((s) => s.name !== 'reviews')
          .map((s) => [s.name, { routing_url: s.url, schema: { file: `./${s.name}.graphql` } }]),
      ),
    };
    const reloaded = nextReload();
    await env.project.write('supergraph.yaml', stringify(config));
    const outcome = await reloaded;
    assert.equal(outcome.ok, true);
    const after = await readyz();
    assert.notEqual(after.supergraph.hash, before.supergraph.hash);
    assert.deepEqual(after.supergraph.subgraphs, ['accounts', 'inventory', 'products']);
    const res = await post(env.gateway.url, reviewsQuery);
    assert.equal(res.json.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
  });

  test('bad YAML keeps the last good supergraph and reports its line and column', async () => {
    const before = await readyz();
    const reloaded = nextReload();
    await env.project.write(
      'supergraph.yaml',
      'federation_version: =2.3.0\nsubgraphs:\n  accounts: [\n',
    );
    const outcome = await reloaded;
    assert.equal(outcome.ok, false);
    const after = await readyz();
    assert.equal(after.status, 'ready');
    assert.equal(after.supergraph.hash, before.supergraph.hash);
    assert.match(after.lastReloadError.message, /supergraph\.yaml:\d+:\d+/);
    const res = await post(env.gateway.url, { query: '{ me { name } }' });
    assert.deepEqual(res.json, { data: { me: { name: 'Ada Lovelace' } } });
    const logged = env.gateway.logs.lines.find((l) => String(l.msg).startsWith('reload failed'));
    assert.match(String(logged?.msg), /supergraph\.yaml:\d+:\d+/);
  });

  test('a schema change that does not compose keeps the last good supergraph and names the subgraph', async () => {
    const reloaded = nextReload();
    await env.project.write('supergraph.yaml', originalConfig);
    assert.equal((await reloaded).ok, true);
    const before = await readyz();

    const products = env.subgraphs.byName('products').sdl.replace('price: Int!', 'price: String!');
    const broken = nextReload();
    await env.project.write('products.graphql', products);
    const outcome = await broken;
    assert.equal(outcome.ok, false);
    const after = await readyz();
    assert.equal(after.supergraph.hash, before.supergraph.hash);
    assert.match(
      after.lastReloadError.message,
      /^composition failed with \d+ errors?:\n {2}INVALID_GRAPHQL: \[products\] Interface field Product\.price/,
    );
    assert.match(after.lastReloadError.message, /products\.graphql:\d+:\d+ \(subgraph products\)/);
    const res = await post(env.gateway.url, reviewsQuery);
    assert.equal(res.json.data.latestReviews.length, 3);
  });

  test('fixing the schema clears the reload error', async () => {
    const fixed = nextReload();
    await env.project.write('products.graphql', env.subgraphs.byName('products').sdl);
    assert.equal((await fixed).ok, true);
    const after = await readyz();
    assert.equal(after.lastReloadError, null);
    assert.equal(after.status, 'ready');
  });

  test('a request in flight during a reload completes with the graph it started on', async () => {
    const slow = await startGatewayOver(SHOP, { delayMs: 1_000 });
    const { gateway: slowGateway, project: slowProject } = slow;
    try {
      const inFlight = post(slowGateway.url, { query: '{ me { name } }' });
      await once(slow.subgraphs.byName('accounts').events, 'request');
      const reloaded = once(slowGateway.running.app.manager, 'reload');
      const withoutReviews = (await readFile(slowProject.configFile, 'utf8')).replace(
        /\n {2}reviews:[\s\S]*$/,
        '\n',
      );
      await slowProject.write('supergraph.yaml', withoutReviews);
      const [outcome] = (await reloaded) as [ReloadOutcome];
      assert.equal(outcome.ok && outcome.changed, true);
      const res = await inFlight;
      assert.equal(res.status, 200);
      assert.deepEqual(res.json, { data: { me: { name: 'Ada Lovelace' } } });
    } finally {
      await slow.close();
    }
  });

  test('a changed start-time setting reloads the rest and says it waits for a restart', async () => {
    const config = await readFile(env.project.configFile, 'utf8');
    const reloaded = nextReload();
    await env.project.write(
      'supergraph.yaml',
      `${config.trimEnd()}\ntracing:\n  enabled: true\n  exporter: none\n`,
    );
    assert.equal((await reloaded).ok, true);
    const warning = env.gateway.logs.lines.findLast((l) =>
      String(l.msg).includes('apply at the next restart'),
    );
    assert.match(String(warning?.msg), /tracing/);
    assert.equal(warning?.level, 40);
    const reverted = nextReload();
    await env.project.write('supergraph.yaml', config);
    assert.equal((await reverted).ok, true);
  });

  test('the watcher follows the schema files the config names', async () => {
    const file = join(env.project.dir, 'accounts.graphql');
    const sdl = await readFile(file, 'utf8');
    const reloaded = nextReload();
    await env.project.write(
      'accounts.graphql',
      sdl.replace('type Query {', 'type Query {\n  "The signed-in user"'),
    );
    const outcome = await reloaded;
    assert.equal(outcome.ok && outcome.changed, true);
  });
});
