import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getOperationAST, parse } from 'graphql';
import { unsupportedOperation } from '../../../src/gateway/operation-support.ts';

/** What Apollo Server resolved for the document and name, then our verdict on it. */
function verdict(query: string, operationName?: string) {
  const document = parse(query);
  const error = unsupportedOperation(
    document,
    operationName,
    getOperationAST(document, operationName) ?? undefined,
  );
  return error && { code: error.code, status: error.status, message: error.message };
}

const cases: [string, string, string | undefined, ReturnType<typeof verdict>][] = [
  ['a single anonymous query runs', '{ a }', undefined, undefined],
  ['a named operation among several runs', 'query A { a } mutation B { b }', 'B', undefined],
  [
    'two operations and no name are refused as a validation failure',
    'query A { a } query B { b }',
    undefined,
    {
      code: 'GRAPHQL_VALIDATION_FAILED',
      status: 400,
      message: 'Must provide operation name if query contains multiple operations.',
    },
  ],
  [
    'a name no operation has is refused as a validation failure',
    'query A { a }',
    'C',
    { code: 'GRAPHQL_VALIDATION_FAILED', status: 400, message: 'Unknown operation named "C".' },
  ],
  [
    'a document without operations is refused as a validation failure',
    'fragment F on Query { a }',
    undefined,
    { code: 'GRAPHQL_VALIDATION_FAILED', status: 400, message: 'Must provide an operation.' },
  ],
  [
    'a subscription is refused as not supported',
    'subscription S { a }',
    undefined,
    {
      code: 'SUBSCRIPTION_NOT_SUPPORTED',
      status: 400,
      message: 'Subscriptions are not supported: the gateway serves queries and mutations.',
    },
  ],
];

for (const [name, query, operationName, expected] of cases) {
  test(name, () => assert.deepEqual(verdict(query, operationName), expected));
}
