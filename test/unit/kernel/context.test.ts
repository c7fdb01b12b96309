import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'graphql';
import {
  createOperationContext,
  createRequestContext,
  createScope,
  type RuntimeSnapshot,
} from '../../../src/kernel/context.ts';

function request() {
  const ctx = createRequestContext({
    scope: createScope(),
    snapshot: {} as RuntimeSnapshot,
    surface: 'graphql',
    method: 'POST',
    path: '/graphql',
    headers: {},
    clientAddress: '127.0.0.1',
    startedAt: 100,
    timeoutMs: 1_000,
    correlationHeader: 'x-correlation-id',
  });
  // What the request stages left on it.
  ctx.correlationId = 'c-1';
  ctx.identity = { kind: 'jwt', subject: 'ada', scopes: [], claims: {} };
  ctx.facts.client = 'web';
  ctx.facts.errorCodes.add('SOMETHING_EARLIER');
  return ctx;
}

test('an operation of a batch keeps its request’s snapshot, identity, deadline and correlation id', () => {
  const ctx = request();
  const operation = createOperationContext(ctx);
  assert.equal(operation.parent, ctx);
  assert.equal(operation.snapshot, ctx.snapshot);
  assert.equal(operation.identity, ctx.identity);
  assert.equal(operation.deadline, 1_100);
  assert.equal(operation.correlationId, 'c-1');
  assert.equal(operation.facts.client, 'web');
});

test('an operation of a batch shares response headers, backend headers and calls, and has its own operation, cost and error codes', () => {
  const ctx = request();
  ctx.operation = {
    document: parse('{ a }'),
    name: undefined,
    variables: {},
    schema: undefined as never,
  };
  const [one, two] = [createOperationContext(ctx), createOperationContext(ctx)] as const;
  assert.equal(one.operation, undefined);
  one.responseHeaders.set('ratelimit', 'r=1');
  two.upstreamHeaders['x-user'] = 'ada';
  one.facts.calls.push({ backend: 'users', kind: 'subgraph', ms: 1, outcome: 'ok' });
  assert.equal(ctx.responseHeaders.get('ratelimit'), 'r=1');
  assert.equal(ctx.upstreamHeaders['x-user'], 'ada');
  assert.equal(ctx.facts.calls.length, 1);

  one.facts.cost = 3;
  one.facts.errorCodes.add('MAX_ALIASES_LIMIT');
  assert.equal(two.facts.cost, undefined);
  assert.equal(ctx.facts.cost, undefined);
  assert.deepEqual([...two.facts.errorCodes], []);
  assert.deepEqual([...ctx.facts.errorCodes], ['SOMETHING_EARLIER']);
});
