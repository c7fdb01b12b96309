import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { SHOP } from '../fixtures/graphs/shop.ts';
import { get, post, startGatewayOver, type GatewayOver } from '../helpers/env.ts';

const require = createRequire(import.meta.url);
const packageFile = (name: string, file: string) =>
  join(dirname(require.resolve(`${name}/package.json`)), file);

/** Every file the page loads, with the installed file it must be byte for byte. */
const ASSETS = [
  {
    path: '/-/graphiql/react.production.min.js',
    type: 'text/javascript; charset=utf-8',
    file: packageFile('react', 'umd/react.production.min.js'),
  },
  {
    path: '/-/graphiql/react-dom.production.min.js',
    type: 'text/javascript; charset=utf-8',
    file: packageFile('react-dom', 'umd/react-dom.production.min.js'),
  },
  {
    path: '/-/graphiql/graphiql.min.js',
    type: 'text/javascript; charset=utf-8',
    file: packageFile('graphiql', 'graphiql.min.js'),
  },
  {
    path: '/-/graphiql/graphiql.min.css',
    type: 'text/css; charset=utf-8',
    file: packageFile('graphiql', 'graphiql.min.css'),
  },
];

const CLIENTS = {
  auth: { api_keys: { keys: [{ name: 'acme-app', sha256: 'a'.repeat(64), client_id: 'acme' }] } },
  clients: {
    web: { default: true },
    mobile: {},
    partner: { endpoint: '/partner/graphql', api_keys: ['acme'], auth: 'required' },
  },
};

const HTML = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

describe('GraphiQL in development', () => {
  let env: GatewayOver;

  before(async () => {
    env = await startGatewayOver(SHOP, { server: { mode: 'development' }, config: CLIENTS });
  });
  after(() => env.close());

  test('a browser GET of the GraphQL path gets GraphiQL, pointed at that path', async () => {
    const page = await get(env.gateway.url, HTML);
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(page.text, /<title>GraphiQL · \/graphql<\/title>/);
    assert.match(page.text, /data-endpoint="\.\/graphql"/);
    for (const { path } of ASSETS) assert.ok(page.text.includes(`"${path}"`), path);
    assert.ok(page.text.includes('"/-/graphiql/init.js"'));
    // No inline script: the policy allows only the gateway's own files.
    assert.doesNotMatch(page.text, /<script>/);
    assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
  });

  test('each GraphiQL file is the installed package file, typed and cacheable', async () => {
    for (const asset of ASSETS) {
      const served = await get(`${env.gateway.origin}${asset.path}`);
      assert.equal(served.status, 200, asset.path);
      assert.equal(served.headers['content-type'], asset.type, asset.path);
      assert.match(String(served.headers['cache-control']), /^public, max-age=\d+$/);
      const installed = await readFile(asset.file, 'utf8');
      assert.ok(installed.length > 0, asset.path);
      assert.equal(served.text, installed, `${asset.path} is ${asset.file}`);
      const again = await get(`${env.gateway.origin}${asset.path}`, {
        'if-none-match': String(served.headers.etag),
      });
      assert.equal(again.status, 304, `${asset.path} revalidates by its ETag`);
    }
  });

  test('the init script mounts GraphiQL without persisting headers', async () => {
    const served = await get(`${env.gateway.origin}/-/graphiql/init.js`);
    assert.equal(served.status, 200);
    assert.equal(served.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.match(served.text, /GraphiQL\.createFetcher\(/);
    assert.match(served.text, /shouldPersistHeaders: false/);
    assert.match(served.text, /defaultEditorToolsVisibility: true/);
  });

  test('an unknown file under the prefix is a 404', async () => {
    const served = await get(`${env.gateway.origin}/-/graphiql/nope.js`);
    assert.equal(served.status, 404);
  });

  test("a client endpoint's page points at that endpoint", async () => {
    const page = await get(`${env.gateway.origin}/graphql/mobile`, HTML);
    assert.equal(page.status, 200);
    assert.match(page.text, /<title>GraphiQL · \/graphql\/mobile<\/title>/);
    assert.match(page.text, /data-endpoint="\.\/mobile"/);
  });

  test('an endpoint that requires auth still serves its page; its queries need the token', async () => {
    const page = await get(`${env.gateway.origin}/partner/graphql`, HTML);
    assert.equal(page.status, 200);
    assert.match(page.text, /data-endpoint="\.\/graphql"/);
    const query = await post(`${env.gateway.origin}/partner/graphql`, { query: '{ __typename }' });
    assert.equal(query.status, 401);
  });

  test('GraphQL clients are answered as before on the same path', async () => {
    const answer = await post(env.gateway.url, { query: '{ me { name } }' });
    assert.deepEqual(answer.json, { data: { me: { name: 'Ada Lovelace' } } });
  });
});

describe('GraphiQL in production', () => {
  let env: GatewayOver;

  before(async () => {
    env = await startGatewayOver(SHOP, { server: { mode: 'production' } });
  });
  after(() => env.close());

  test('serves no page and none of the GraphiQL files', async () => {
    const page = await get(env.gateway.url, HTML);
    assert.notEqual(page.status, 200);
    assert.doesNotMatch(page.text, /<html/);
    for (const path of [...ASSETS.map((a) => a.path), '/-/graphiql/init.js']) {
      const served = await get(`${env.gateway.origin}${path}`);
      assert.equal(served.status, 404, path);
      assert.doesNotMatch(served.text, /React|GraphiQL\b/, path);
    }
  });
});

describe('the landing page in production with server.landing_page', () => {
  let env: GatewayOver;

  before(async () => {
    env = await startGatewayOver(SHOP, { server: { mode: 'production', landing_page: true } });
  });
  after(() => env.close());

  test('is the plain query page, not GraphiQL, and the GraphiQL files stay 404', async () => {
    const page = await get(env.gateway.url, HTML);
    assert.equal(page.status, 200);
    assert.match(page.text, /<title>GraphQL gateway<\/title>/);
    assert.doesNotMatch(page.text, /graphiql/i);
    const served = await get(`${env.gateway.origin}/-/graphiql/graphiql.min.js`);
    assert.equal(served.status, 404);
  });
});
