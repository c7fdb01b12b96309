import { test } from 'node:test';
import assert from 'node:assert/strict';
import { post, startGatewayOver } from '../helpers/env.ts';

const LINK = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])`;
const people = [
  { id: 'u1', name: 'Ada Lovelace' },
  { id: 'u2', name: 'Alan Turing' },
];

/** Users, and their reviews from a subgraph of their own; the reviews' fields are nullable. */
const users = {
  name: 'users',
  sdl: `${LINK}
type User @key(fields: "id") { id: ID! name: String! }
type Query { me: User users: [User!]! }`,
  resolvers: {
    Query: { me: () => people[0], users: () => people },
    User: { __resolveReference: (ref: { id: string }) => people.find((p) => p.id === ref.id) },
  },
};
const reviews = {
  name: 'reviews',
  sdl: `${LINK}
type Review { body: String! }
type User @key(fields: "id") { id: ID! reviews: [Review!] reviewCount: Int }
type Query { latestReviews: [Review!] }`,
  resolvers: {
    Query: { latestReviews: () => [{ body: 'Visionary.' }] },
    User: {
      __resolveReference: (ref: { id: string }) => ref,
      reviews: () => [{ body: 'Visionary.' }],
      reviewCount: () => 1,
    },
  },
};

test('a subgraph that is down leaves an error at each field it left null, with the rest of the data and 200', async (t) => {
  const env = await startGatewayOver([users, reviews], { server: { mode: 'production' } });
  t.after(() => env.close());
  await env.subgraphs.byName('reviews').close();

  const res = await post(
    env.gateway.url,
    {
      query:
        '{ me { name reviews { body } } users { name count: reviewCount } latestReviews { body } }',
    },
    { accept: 'application/graphql-response+json' },
  );
  assert.equal(res.status, 200);
  assert.deepEqual(res.json.data, {
    me: { name: 'Ada Lovelace', reviews: null },
    users: [
      { name: 'Ada Lovelace', count: null },
      { name: 'Alan Turing', count: null },
    ],
    latestReviews: null,
  });
  const paths = res.json.errors.map((e: any) => e.path.join('.')).sort();
  assert.deepEqual(paths, ['latestReviews', 'me.reviews', 'users.0.count', 'users.1.count']);
  for (const error of res.json.errors) {
    assert.equal(error.message, 'Subgraph "reviews" is unavailable.');
    assert.equal(error.extensions.code, 'UPSTREAM_UNAVAILABLE');
    assert.equal(error.extensions.subgraph, 'reviews');
  }
  assert.doesNotMatch(res.text, /127\.0\.0\.1|ECONNREFUSED/);
  // One failed fetch is one log line, listing the paths it left null, with the socket error.
  const logged = env.gateway.logs.lines.filter(
    (l) => l.msg === 'Subgraph "reviews" is unavailable.',
  );
  const usersLine = logged.find((l) => Array.isArray(l.paths));
  assert.deepEqual(usersLine?.paths, [
    ['users', 0, 'count'],
    ['users', 1, 'count'],
  ]);
  assert.match(JSON.stringify(usersLine?.err), /ECONNREFUSED/);
  assert.equal(logged.length, 3, 'one line per fetch: me, users, latestReviews');
});
