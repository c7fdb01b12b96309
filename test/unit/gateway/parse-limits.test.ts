import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApolloServer } from '@apollo/server';
import { parseLimitsPlugin } from '../../../src/gateway/plugins/parse-limits.ts';

test('a document the parser stops at maxTokens is answered MAX_TOKENS_LIMIT with the limit', async () => {
  // Holds the plugin to the installed graphql-js's wording of the refusal.
  const server = new ApolloServer({
    typeDefs: 'type Query { a: Int }',
    parseOptions: { maxTokens: 5 },
    plugins: [parseLimitsPlugin()],
  });
  await server.start();
  try {
    const response = await server.executeOperation({ query: '{ a a a a a a a }' });
    assert.equal(response.http.status, 400);
    assert.ok(response.body.kind === 'single');
    const [error] = response.body.singleResult.errors ?? [];
    assert.equal(error?.extensions?.code, 'MAX_TOKENS_LIMIT');
    assert.equal(error?.extensions?.max, 5);
    assert.match(error?.message ?? '', /more than 5, max_tokens: 5/);
    const syntax = await server.executeOperation({ query: '{ a ' });
    assert.ok(syntax.body.kind === 'single');
    assert.equal(syntax.body.singleResult.errors?.[0]?.extensions?.code, 'GRAPHQL_PARSE_FAILED');
  } finally {
    await server.stop();
  }
});
