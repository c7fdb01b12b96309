import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchErrors, type FetchRequest } from '../../../src/gateway/data-sources/fetch-errors.ts';
import {
  GatewayError,
  UpstreamError,
  UpstreamUnavailableError,
} from '../../../src/kernel/errors.ts';

const unavailable = new UpstreamUnavailableError('reviews', new Error('connect ECONNREFUSED'));

/** What a client would see of each error: message, path, extensions. */
const placed = (request: FetchRequest, error: GatewayError = unavailable) =>
  fetchErrors(request, error).map((e) => ({
    message: e.message,
    path: e.path,
    extensions: e.extensions,
  }));

const at = (path: (string | number)[] | undefined) => ({
  message: 'Subgraph "reviews" is unavailable.',
  path,
  extensions: { code: 'UPSTREAM_UNAVAILABLE', subgraph: 'reviews' },
});

const cases: [string, FetchRequest, ReturnType<typeof at>[]][] = [
  [
    'a root fetch has one error per top-level field, at the field',
    { query: '{ me { name } topReviews { body } }' },
    [at(['me']), at(['topReviews'])],
  ],
  [
    'an aliased root field is placed by its alias',
    { query: 'query Q { mine: me { name } other: me { id } }', operationName: 'Q' },
    [at(['mine']), at(['other'])],
  ],
  [
    'fields in top-level fragments count, each key once, __typename not',
    {
      query:
        'query Q { __typename ...F ... on Query { me { id } latest } } fragment F on Query { me { name } }',
    },
    [at(['me']), at(['latest'])],
  ],
  [
    'the named operation is the one placed',
    { query: 'query A { a } query B { b }', operationName: 'B' },
    [at(['b'])],
  ],
  [
    'an entity fetch has one error per representation and field, at _entities, index and key',
    {
      query:
        'query Q($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { reviews { body } count: reviewCount } } }',
      variables: {
        representations: [
          { __typename: 'User', id: 'u1' },
          { __typename: 'User', id: 'u2' },
        ],
      },
    },
    [
      at(['_entities', 0, 'reviews']),
      at(['_entities', 0, 'count']),
      at(['_entities', 1, 'reviews']),
      at(['_entities', 1, 'count']),
    ],
  ],
  [
    'an entity fetch over several types places each representation by its own type',
    {
      query:
        'query Q($representations: [_Any!]!) { _entities(representations: $representations) { __typename ... on Book { reviews { body } pages } ...F } } fragment F on Furniture { reviews { body } }',
      variables: {
        representations: [
          { __typename: 'Furniture', upc: 'f1' },
          { __typename: 'Book', upc: 'b1' },
        ],
      },
    },
    [
      at(['_entities', 0, 'reviews']),
      at(['_entities', 1, 'reviews']),
      at(['_entities', 1, 'pages']),
    ],
  ],
  [
    'an entity whose type no fragment names is placed at the entity',
    {
      query:
        'query Q($representations: [_Any!]!) { _entities(representations: $representations) { ... on Book { pages } } }',
      variables: { representations: [{ __typename: 'Magazine', id: 'm1' }] },
    },
    [at(['_entities', 0])],
  ],
  [
    'a fetch whose query does not parse keeps one error without a path',
    { query: '{' },
    [at(undefined)],
  ],
];

for (const [name, request, expected] of cases) {
  test(`fetch errors: ${name}`, () => assert.deepEqual(placed(request), expected));
}

test('fetch errors keep the upstream status and drop the HTTP status of the response', () => {
  const error = new GatewayError('UPSTREAM_ERROR', 'Subgraph "reviews" answered HTTP 500.', {
    subgraph: 'reviews',
    extensions: { upstreamStatus: 500 },
  });
  assert.deepEqual(placed({ query: '{ a }' }, error)[0]?.extensions, {
    upstreamStatus: 500,
    code: 'UPSTREAM_ERROR',
    subgraph: 'reviews',
  });
});

test('fetch errors keep the typed error as their original error, for the log', () => {
  const error = new UpstreamError('reviews', 'answered HTTP 502', { status: 502 });
  const [placedError] = fetchErrors({ query: '{ a }' }, error);
  assert.equal(placedError?.originalError, error);
});
