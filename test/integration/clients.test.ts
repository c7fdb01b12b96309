import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ServerConfig } from '../../src/config/schema.ts';
import {
  get,
  post,
  startSubgraphs,
  startTestGateway,
  writeProject,
  type TestGateway,
} from '../helpers/env.ts';
import type { SubgraphServerOptions } from '../helpers/subgraph-server.ts';

/** A graph whose operations cost what the test needs: an object field costs 1, a scalar 0. */
const tree: Omit<SubgraphServerOptions, 'port'> = {
  name: 'tree',
  sdl: `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Node { id: ID! next: Node }
type Query { node: Node }`,
  resolvers: { Query: { node: () => ({ id: '1' }) }, Node: { next: () => ({ id: '2' }) } },
};

/** `{ a0: node { id } ... }`: `n` aliases and object fields, cost `n`. */
const aliased = (n: number) =>
  `{ ${Array.from({ length: n }, (_, i) => `a${i}: node { id }`).join(' ')} }`;
const ONE = '{ node { id } }';
const INTROSPECT = '{ __schema { queryType { name } } }';
const ACME_KEY = 'acme-key-0123456789';
const OTHER_KEY = 'other-key-0123456789';
const sha = (key: string) => createHash('sha256').update(key).digest('hex');
const CORRELATION = ServerConfig.parse({}).correlation_header;

describe('clients: one endpoint and one set of policies per client', () => {
  let gateway: TestGateway;
  let close: () => Promise<void>;
  let n = 0;

  before(async () => {
    const subgraphs = await startSubgraphs([tree]);
    const project = await writeProject(subgraphs.servers, {
      // Production mode: introspection is off unless a client turns it on.
      server: { mode: 'production' },
      auth: {
        api_keys: {
          keys: [
            { name: 'acme-app', sha256: sha(ACME_KEY), client_id: 'acme' },
            { name: 'other-app', sha256: sha(OTHER_KEY), client_id: 'other' },
          ],
        },
      },
      limits: { rate: { policies: [{ name: 'global', limit: 1000, window: '60s' }] } },
      clients: {
        web: { default: true, introspection: true, limits: { operation: { max_aliases: 3 } } },
        mobile: { limits: { cost: { max: 2 } } },
        partner: { endpoint: '/partner/graphql', api_keys: ['acme'], auth: 'required' },
        // Two clients with a policy of the same name: one caller spends two budgets.
        'metered-a': {
          limits: { rate: { policies: [{ name: 'tight', limit: 1, window: '60s' }] } },
        },
        'metered-b': {
          limits: { rate: { policies: [{ name: 'tight', limit: 1, window: '60s' }] } },
        },
      },
    });
    gateway = await startTestGateway({ configFile: project.configFile });
    close = async () => {
      await gateway.close();
      await subgraphs.close();
      await project.remove();
    };
  });
  after(() => close());

  /** POSTs `query` to `path`, with a correlation id to find its log line by. */
  async function call(path: string, query: string, headers: Record<string, string> = {}) {
    const id = `clients-test-${++n}`;
    const result = await post(
      `${gateway.origin}${path}`,
      { query },
      {
        [CORRELATION]: id,
        ...headers,
      },
    );
    const line = () => gateway.logs.find((l) => l.msg === 'request' && l.correlationId === id);
    return { ...result, line };
  }
  const codeOf = (r: { json: any }) => r.json?.errors?.[0]?.extensions?.code;

  test('introspection is served where the client allows it and refused where it does not', async () => {
    const web = await call('/graphql/web', INTROSPECT);
    assert.equal(web.status, 200, web.text);
    assert.equal(web.json.data.__schema.queryType.name, 'Query');
    const onDefault = await call('/graphql', INTROSPECT);
    assert.equal(onDefault.status, 200, onDefault.text);
    const mobile = await call('/graphql/mobile', INTROSPECT);
    assert.equal(codeOf(mobile), 'INTROSPECTION_DISABLED');
  });

  test("a client's operation limit applies to that client only", async () => {
    // Four aliases: over web's max_aliases 3, within the global 30 that mobile keeps.
    const web = await call('/graphql/web', aliased(4));
    assert.equal(web.status, 400);
    assert.equal(codeOf(web), 'MAX_ALIASES_LIMIT');
    const mobile = await call('/graphql/mobile', '{ a0: node { id } b: node { id } }');
    assert.equal(mobile.status, 200, mobile.text);
  });

  test("a client's cost max applies to that client only", async () => {
    // Three object fields cost 3: over mobile's max 2, far within the global 5000 web keeps.
    const mobile = await call('/graphql/mobile', aliased(3));
    assert.equal(mobile.status, 400);
    assert.equal(codeOf(mobile), 'COST_ESTIMATED_TOO_EXPENSIVE');
    assert.equal(mobile.json.errors[0].extensions['cost.max'], 2);
    const web = await call('/graphql/web', aliased(3));
    assert.equal(web.status, 200, web.text);
  });

  test("a client's rate budgets replace the global ones and are kept per client", async () => {
    const first = await call('/graphql/metered-a', ONE);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.headers['ratelimit-policy'], '"tight";q=1;w=60');
    const second = await call('/graphql/metered-a', ONE);
    assert.equal(second.status, 429);
    assert.equal(codeOf(second), 'RATE_LIMITED');
    // The same caller, the same policy name, another client: a budget of its own.
    const other = await call('/graphql/metered-b', ONE);
    assert.equal(other.status, 200, other.text);
    // A client without budgets of its own spends the global ones.
    const mobile = await call('/graphql/mobile', ONE);
    assert.match(String(mobile.headers['ratelimit-policy']), /^"global";q=1000;w=60/);
  });

  test('the default endpoint serves the default client, and a bound API key picks its client', async () => {
    const anonymous = await call('/graphql', ONE);
    assert.equal((await anonymous.line()).client, 'web');
    // acme's keys are the partner's: partner's policies (no introspection) apply on /graphql.
    const bound = await call('/graphql', INTROSPECT, { 'x-api-key': ACME_KEY });
    assert.equal(codeOf(bound), 'INTROSPECTION_DISABLED');
    assert.equal((await bound.line()).client, 'partner');
    // A verified key no client binds stays with the default client.
    const unbound = await call('/graphql', INTROSPECT, { 'x-api-key': OTHER_KEY });
    assert.equal(unbound.status, 200, unbound.text);
    assert.equal((await unbound.line()).client, 'web');
  });

  test("a client's own endpoint applies its auth mode, whatever key is bound", async () => {
    const anonymous = await call('/partner/graphql', ONE);
    assert.equal(anonymous.status, 401);
    const withKey = await call('/partner/graphql', ONE, { 'x-api-key': ACME_KEY });
    assert.equal(withKey.status, 200, withKey.text);
    // On a client's own endpoint the path decides: acme's key on web is web's request.
    const elsewhere = await call('/graphql/web', ONE, { 'x-api-key': ACME_KEY });
    assert.equal((await elsewhere.line()).client, 'web');
  });

  test('a header never names the client: the log line and metrics carry configured ids', async () => {
    const result = await call('/graphql/mobile', ONE, { 'apollographql-client-name': 'web' });
    assert.equal((await result.line()).client, 'mobile');
    const nowhere = await post(
      `${gateway.origin}/elsewhere`,
      {},
      {
        'apollographql-client-name': 'made-up',
        [CORRELATION]: 'clients-test-rest',
      },
    );
    assert.equal(nowhere.status, 404);
    const line = await gateway.logs.find(
      (l) => l.msg === 'request' && l.correlationId === 'clients-test-rest',
    );
    assert.equal(line.client, '(unknown)');
    const metrics = (await get(`${gateway.adminOrigin}/metrics`)).text;
    assert.match(metrics, /client="mobile"/);
    assert.doesNotMatch(metrics, /client="made-up"/);
  });

  test('a path under /graphql that no client has is 404, as before', async () => {
    const result = await call('/graphql/nope', ONE);
    assert.equal(result.status, 404);
  });
});
