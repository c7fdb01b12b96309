import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { SHOP } from '../fixtures/graphs/shop.ts';
import { get, post, startGatewayOver, type GatewayOver } from '../helpers/env.ts';

const GRAPHQL_RESPONSE = 'application/graphql-response+json';
const JSON_TYPE = 'application/json';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Requests a client got wrong that Apollo Server and Apollo Gateway answered 500 INVALID_GRAPHQL
 * or 400 INTERNAL_SERVER_ERROR (masked), logged as failures. Each is the client's to fix: a 4xx
 * with a documented code and a message that says what to fix, logged at info, in both modes.
 * Under legacy application/json a GraphQL request error (no operation to run) answers 200, the
 * gateway's rule for every validation failure (GraphQL over HTTP, application/json).
 */
const MISTAKES: [
  name: string,
  body: Record<string, unknown>,
  code: string,
  message: RegExp,
  status: Record<string, number>,
][] = [
  [
    'a document with two operations and no operationName',
    { query: 'query A { me { name } } query B { me { id } }' },
    'GRAPHQL_VALIDATION_FAILED',
    /^Must provide operation name if query contains multiple operations\.$/,
    { [GRAPHQL_RESPONSE]: 400, [JSON_TYPE]: 200 },
  ],
  [
    'an operationName the document does not define',
    { query: 'query A { me { name } }', operationName: 'B' },
    'GRAPHQL_VALIDATION_FAILED',
    /^Unknown operation named "B"\.$/,
    { [GRAPHQL_RESPONSE]: 400, [JSON_TYPE]: 200 },
  ],
  [
    'a subscription',
    { query: 'subscription S { me { name } }' },
    'SUBSCRIPTION_NOT_SUPPORTED',
    /^Subscriptions are not supported/,
    { [GRAPHQL_RESPONSE]: 400, [JSON_TYPE]: 400 },
  ],
  [
    'a persisted query hash that does not match its query',
    {
      query: '{ me { name } }',
      extensions: { persistedQuery: { version: 1, sha256Hash: sha256('{ me { id } }') } },
    },
    'PERSISTED_QUERY_HASH_MISMATCH',
    /sha256Hash does not match the query/,
    { [GRAPHQL_RESPONSE]: 400, [JSON_TYPE]: 400 },
  ],
];

for (const mode of ['production', 'development'] as const) {
  describe(`client mistakes in ${mode} mode`, () => {
    let env: GatewayOver;
    before(async () => {
      env = await startGatewayOver(SHOP, { server: { mode } });
    });
    after(() => env.close());

    for (const [index, [name, body, code, message, statuses]] of MISTAKES.entries()) {
      for (const accept of [GRAPHQL_RESPONSE, JSON_TYPE]) {
        test(`${name} answers ${statuses[accept]} ${code} under ${accept}, logged at info`, async () => {
          const correlationId = `mistake-${mode}-${index}-${accept.length}`;
          const res = await post(env.gateway.url, body, {
            accept,
            'x-correlation-id': correlationId,
          });
          assert.equal(res.status, statuses[accept]);
          const type = String(res.headers['content-type']);
          assert.ok(type.startsWith(accept), type);
          assert.equal(res.json.data, undefined);
          assert.equal(res.json.errors.length, 1);
          const [error] = res.json.errors;
          assert.equal(error.extensions.code, code);
          assert.match(error.message, message);
          const logged = env.gateway.logs.lines.filter((l) => l.correlationId === correlationId);
          const errors = logged.filter((l) => l.code === code);
          assert.equal(errors.length, 1, JSON.stringify(errors));
          assert.equal(errors[0]!.level, 30);
          assert.ok(
            logged.every((l) => (l.level as number) < 50),
            JSON.stringify(logged),
          );
        });
      }
    }

    test('a persisted query hash that does not match its query is refused over GET too', async () => {
      const search = new URLSearchParams({
        query: '{ me { name } }',
        extensions: JSON.stringify({ persistedQuery: { version: 1, sha256Hash: 'ab'.repeat(32) } }),
      });
      const res = await get(`${env.gateway.url}?${search}`, { 'apollo-require-preflight': 'true' });
      assert.equal(res.status, 400);
      assert.equal(res.json.errors[0].extensions.code, 'PERSISTED_QUERY_HASH_MISMATCH');
    });

    test('a persisted query with its matching hash still runs and registers', async () => {
      const query = '{ me { username } }';
      const extensions = { persistedQuery: { version: 1, sha256Hash: sha256(query) } };
      assert.deepEqual((await post(env.gateway.url, { query, extensions })).json, {
        data: { me: { username: 'ada' } },
      });
      assert.deepEqual((await post(env.gateway.url, { extensions })).json, {
        data: { me: { username: 'ada' } },
      });
    });
  });
}
