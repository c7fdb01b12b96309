import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SHOP } from '../fixtures/graphs/shop.ts';
import { get, post, startGatewayOver, type GatewayOver } from '../helpers/env.ts';

/**
 * GraphQL over HTTP as a client meets it: every malformed request gets a 4xx with a GraphQL
 * error body, and the gateway keeps serving. https://graphql.github.io/graphql-over-http/draft/
 */
describe('the GraphQL endpoint over HTTP', () => {
  let env: GatewayOver;
  const ok = { query: '{ me { id name } }' };

  before(async () => {
    env = await startGatewayOver(SHOP);
  });

  after(() => env.close());

  /** After every refusal, a good query still works on the same env.gateway. */
  async function assertStillServes() {
    const res = await post(env.gateway.url, ok);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { data: { me: { id: 'u1', name: 'Ada Lovelace' } } });
  }

  function assertGraphQLError(
    res: { status: number; json: any },
    status: number,
    code: string,
    message: RegExp,
  ) {
    assert.equal(res.status, status, JSON.stringify(res.json));
    assert.equal(res.json.data, undefined);
    assert.equal(res.json.errors.length, 1);
    assert.equal(res.json.errors[0].extensions.code, code);
    assert.match(res.json.errors[0].message, message);
  }

  test('a POST with a query answers 200 application/json by default', async () => {
    const res = await post(env.gateway.url, ok);
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
  });

  test('a client that accepts application/graphql-response+json gets it', async () => {
    const res = await post(env.gateway.url, ok, { accept: 'application/graphql-response+json' });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^application\/graphql-response\+json/);
  });

  test('a validation error answers 400 under application/graphql-response+json', async () => {
    const res = await post(
      env.gateway.url,
      { query: '{ me { nope } }' },
      { accept: 'application/graphql-response+json' },
    );
    assertGraphQLError(res, 400, 'GRAPHQL_VALIDATION_FAILED', /Cannot query field "nope"/);
    await assertStillServes();
  });

  test('a malformed JSON body answers 400 naming the problem', async () => {
    const res = await post(env.gateway.url, '{"query": "{ me { id } }"');
    assertGraphQLError(res, 400, 'BAD_REQUEST', /not valid JSON/);
    await assertStillServes();
  });

  test('an empty body answers 400', async () => {
    const res = await post(env.gateway.url, '');
    assertGraphQLError(res, 400, 'BAD_REQUEST', /body is empty/);
    await assertStillServes();
  });

  test('a request without a query answers 400', async () => {
    const res = await post(env.gateway.url, { variables: {} });
    assertGraphQLError(res, 400, 'BAD_REQUEST', /non-empty `query`/);
    await assertStillServes();
  });

  test('a query that does not parse answers 400 with its location under graphql-response+json', async () => {
    const res = await post(
      env.gateway.url,
      { query: '{ me { id ' },
      { accept: 'application/graphql-response+json' },
    );
    assertGraphQLError(res, 400, 'GRAPHQL_PARSE_FAILED', /Syntax Error/);
    assert.deepEqual(res.json.errors[0].locations, [{ line: 1, column: 11 }]);
    await assertStillServes();
  });

  test('parse and validation errors answer 200 under legacy application/json, as the spec asks', async () => {
    const parse = await post(
      env.gateway.url,
      { query: '{ me { id ' },
      { accept: 'application/json' },
    );
    assertGraphQLError(parse, 200, 'GRAPHQL_PARSE_FAILED', /Syntax Error/);
    const validation = await post(env.gateway.url, { query: '{ me { nope } }' });
    assertGraphQLError(validation, 200, 'GRAPHQL_VALIDATION_FAILED', /Cannot query field "nope"/);
    const missing = await post(env.gateway.url, { variables: {} });
    assert.equal(missing.status, 400, 'a request without a query is not well-formed: still 400');
  });

  test('a body that is not application/json answers 415', async () => {
    const res = await post(env.gateway.url, 'query=%7B%20me%20%7B%20id%20%7D%20%7D', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    assertGraphQLError(
      res,
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      /must have content-type application\/json/,
    );
    await assertStillServes();
  });

  test('a body over the 1 MiB default limit answers 413 and closes the connection', async () => {
    const big = JSON.stringify({
      query: '{ me { id } }',
      variables: { pad: 'x'.repeat(1_048_576) },
    });
    const res = await post(env.gateway.url, big);
    assertGraphQLError(res, 413, 'PAYLOAD_TOO_LARGE', /larger than the limit of 1048576 bytes/);
    assert.equal(res.headers.connection, 'close');
    await assertStillServes();
  });

  test('a chunked body over the limit is cut off at the limit with 413', async () => {
    const { request } = await import('undici');
    const { Readable } = await import('node:stream');
    // No content-length: the limit must hold while streaming, not only on the declared size.
    const chunks = Readable.from(
      (function* () {
        for (let i = 0; i < 20; i++) yield Buffer.alloc(100_000, 0x20);
      })(),
    );
    const response = await request(env.gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: chunks,
    });
    const json = (await response.body.json()) as any;
    assert.equal(response.statusCode, 413);
    assert.equal(json.errors[0].extensions.code, 'PAYLOAD_TOO_LARGE');
    await assertStillServes();
  });

  test('a query over GET works with a preflight header', async () => {
    const res = await get(`${env.gateway.url}?query=${encodeURIComponent('{ me { username } }')}`, {
      'apollo-require-preflight': 'true',
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { data: { me: { username: 'ada' } } });
  });

  test('a GET without a preflight header is refused as a possible CSRF', async () => {
    const res = await get(`${env.gateway.url}?query=${encodeURIComponent('{ me { id } }')}`);
    assertGraphQLError(res, 400, 'BAD_REQUEST', /CSRF/);
    await assertStillServes();
  });

  test('a mutation over GET answers 405', async () => {
    const res = await get(
      `${env.gateway.url}?query=${encodeURIComponent('mutation { previewRename(id: "u1", name: "A") { name } }')}`,
      {
        'apollo-require-preflight': 'true',
      },
    );
    assertGraphQLError(res, 405, 'BAD_REQUEST', /GET requests only support query operations/);
    await assertStillServes();
  });

  test('another method answers 405 with an Allow header', async () => {
    const { request } = await import('undici');
    const response = await request(env.gateway.url, { method: 'PUT', body: '{}' });
    const json = (await response.body.json()) as any;
    assert.equal(response.statusCode, 405);
    assert.equal(response.headers.allow, 'GET, POST');
    assert.equal(json.errors[0].extensions.code, 'METHOD_NOT_ALLOWED');
  });

  test('an unknown path answers 404 with a google.rpc.Status body (it is not a GraphQL request)', async () => {
    const res = await post(`${env.gateway.origin}/nope`, ok);
    assert.equal(res.status, 404);
    assert.equal(res.json.code, 5);
    assert.match(res.json.message, /No route for POST \/nope/);
    assert.equal(res.json.details[0].reason, 'NOT_FOUND');
    assert.equal(res.json.details[0].metadata.correlationId, res.headers['x-correlation-id']);
  });

  test('every response carries a correlation id, the client’s when well-formed', async () => {
    const given = await post(env.gateway.url, ok, { 'x-correlation-id': 'checkout-42' });
    assert.equal(given.headers['x-correlation-id'], 'checkout-42');
    const forged = await post(env.gateway.url, ok, { 'x-correlation-id': 'a b\tc' });
    assert.match(String(forged.headers['x-correlation-id']), /^[0-9a-f-]{36}$/);
    const refused = await post(env.gateway.url, '{');
    assert.match(String(refused.headers['x-correlation-id']), /^[0-9a-f-]{36}$/);
  });

  test('subgraphs receive the correlation id and no client headers', async () => {
    const accounts = env.subgraphs.byName('accounts');
    const before = accounts.received.length;
    await post(env.gateway.url, ok, {
      'x-correlation-id': 'trace-me',
      authorization: 'Bearer secret',
      'x-user-id': '7',
    });
    const seen = accounts.received.slice(before);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.headers['x-correlation-id'], 'trace-me');
    assert.equal(seen[0]?.headers.authorization, undefined);
    assert.equal(seen[0]?.headers['x-user-id'], undefined);
  });

  test('/healthz answers 200 and /readyz reports the supergraph', async () => {
    const health = await get(`${env.gateway.origin}/healthz`);
    assert.deepEqual([health.status, health.json], [200, { status: 'ok' }]);
    const ready = await get(`${env.gateway.adminOrigin}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(ready.json.status, 'ready');
    assert.match(ready.json.supergraph.hash, /^[0-9a-f]{64}$/);
    assert.deepEqual(ready.json.supergraph.subgraphs, [
      'accounts',
      'inventory',
      'products',
      'reviews',
    ]);
    assert.equal(ready.json.lastReloadError, null);
  });
});
