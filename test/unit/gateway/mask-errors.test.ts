import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphQLError } from 'graphql';
import { maskError } from '../../../src/gateway/mask-errors.ts';
import { UpstreamError } from '../../../src/kernel/errors.ts';

const cases: [
  string,
  Parameters<typeof maskError>[0],
  { message: string; extensions: Record<string, unknown> },
][] = [
  [
    'keeps a client-facing code and message, drops the upstream response',
    {
      message: 'Subgraph "users" is unavailable.',
      extensions: {
        code: 'UPSTREAM_UNAVAILABLE',
        subgraph: 'users',
        response: { url: 'http://10.0.0.7/graphql', body: 'x' },
      },
    },
    {
      message: 'Subgraph "users" is unavailable.',
      extensions: { code: 'UPSTREAM_UNAVAILABLE', subgraph: 'users' },
    },
  ],
  [
    'replaces an internal message and its stack trace',
    {
      message: 'Cannot read properties of undefined (reading "id") at /srv/app.js:12',
      extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: ['at x'] },
    },
    { message: 'Internal server error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } },
  ],
  [
    'replaces a subgraph error without a client-facing code, keeping the subgraph name',
    {
      message: 'connect ECONNREFUSED db.internal:5432',
      extensions: { code: 'DOWNSTREAM_SERVICE_ERROR', serviceName: 'orders' },
    },
    {
      message: 'Subgraph "orders" returned an error.',
      extensions: { code: 'DOWNSTREAM_SERVICE_ERROR', serviceName: 'orders' },
    },
  ],
  [
    'gives an error without a code the internal code',
    { message: 'boom' },
    { message: 'Internal server error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } },
  ],
  [
    'keeps validation messages',
    {
      message: 'Cannot query field "x" on type "Query".',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    },
    {
      message: 'Cannot query field "x" on type "Query".',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    },
  ],
];

for (const [name, input, expected] of cases) {
  test(`production masking ${name}`, () => {
    const masked = maskError({ ...input, path: ['a', 0] });
    assert.deepEqual(masked, { ...expected, path: ['a', 0] });
  });
}

// graphql-js appends suggestions to many messages (jsutils/didYouMean.js): they name fields,
// arguments, types and enum values a client may not know of (hidden or filtered by a contract).
const suggestions: [string, string, string][] = [
  [
    'BAD_USER_INPUT',
    'Variable "$in" got invalid value { txt: "x" }; Field "txt" is not defined by type "In". Did you mean "text"?',
    'Variable "$in" got invalid value { txt: "x" }; Field "txt" is not defined by type "In".',
  ],
  [
    'BAD_USER_INPUT',
    'Variable "$c" got invalid value "REDD"; Value "REDD" does not exist in "Color" enum. Did you mean the enum value "RED" or "READ"?',
    'Variable "$c" got invalid value "REDD"; Value "REDD" does not exist in "Color" enum.',
  ],
  [
    'GRAPHQL_VALIDATION_FAILED',
    'Unknown argument "fist" on field "Query.topProducts". Did you mean "first", "firstName", or "fast"?',
    'Unknown argument "fist" on field "Query.topProducts".',
  ],
  ['UPSTREAM_ERROR', 'Subgraph "users" answered HTTP 500.', 'Subgraph "users" answered HTTP 500.'],
];

for (const [code, message, expected] of suggestions) {
  test(`production masking leaves no suggestion in a ${code} message: ${expected}`, () => {
    assert.equal(maskError({ message, extensions: { code } }).message, expected);
  });
}

test('production reads an adapter error by its public message, wherever graphql-js and Apollo Gateway wrapped it', () => {
  const adapter = new UpstreamError('users', 'answered HTTP 404 to GET /users/{args.id}', {
    status: 404,
    code: 'NOT_FOUND',
    publicReason: 'answered 404',
  });
  // graphql-js's located error around it, and Apollo Gateway's downstream error around that.
  const located = new GraphQLError(adapter.message, { originalError: adapter, path: ['user'] });
  const downstream = new GraphQLError(located.message, {
    originalError: located,
    extensions: { ...adapter.extensions, serviceName: 'users' },
  });
  const masked = maskError(downstream.toJSON(), downstream);
  assert.equal(masked.message, 'Subgraph "users" answered 404.');
  assert.equal(masked.extensions?.code, 'NOT_FOUND');
  assert.equal(masked.extensions?.subgraph, 'users');
});
