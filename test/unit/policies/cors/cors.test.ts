import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CorsConfig } from '../../../../src/config/schema.ts';
import type { RequestContext } from '../../../../src/kernel/context.ts';
import { compileCors, cors, type CorsPolicy } from '../../../../src/policies/cors/cors.ts';

const policyOf = (config: Record<string, unknown>) =>
  compileCors(CorsConfig.parse(config), 'x-correlation-id');

/** What the stage leaves on a request to an endpoint with `policy`: its reply and headers. */
function run(
  policy: CorsPolicy | undefined,
  method: string,
  headers: Record<string, string>,
): { reply: RequestContext['reply']; headers: Record<string, string> } {
  const ctx = {
    method,
    path: '/graphql',
    headers,
    responseHeaders: new Map<string, string>(),
    snapshot: { clients: { atEndpoint: () => undefined }, cors: policy },
  } as unknown as RequestContext;
  cors(ctx);
  return { reply: ctx.reply, headers: Object.fromEntries(ctx.responseHeaders) };
}

const preflight = (method: string, extra: Record<string, string> = {}) => ({
  origin: 'https://a.example',
  'access-control-request-method': method,
  ...extra,
});

test('no policy: the stage sets nothing, not even Vary', () => {
  assert.deepEqual(run(undefined, 'OPTIONS', preflight('POST')), { reply: undefined, headers: {} });
});

test('requested methods are compared as Fetch normalizes them: six upper-cased, others as sent', () => {
  const policy = policyOf({ origins: ['https://a.example'], methods: ['POST', 'PATCH'] });
  const table: [string, number][] = [
    ['POST', 204],
    ['post', 204], // a browser sends POST; normalized either way
    ['PATCH', 204],
    ['patch', 403], // not one of the six: case-sensitive, and the config is upper-cased
    ['GET', 403],
  ];
  for (const [method, status] of table)
    assert.equal(run(policy, 'OPTIONS', preflight(method)).reply?.status, status, method);
});

test('mirrored request headers keep header names only, lower-cased', () => {
  const policy = policyOf({ origins: ['https://a.example'] });
  const { headers } = run(
    policy,
    'OPTIONS',
    preflight('POST', { 'access-control-request-headers': 'X-A, bad header,,x-b ' }),
  );
  assert.equal(headers['access-control-allow-headers'], 'x-a, x-b');
  // Nothing requested, nothing configured: no Allow-Headers at all.
  const none = run(policy, 'OPTIONS', preflight('POST')).headers;
  assert.equal(none['access-control-allow-headers'], undefined);
});

test('* answers * to any origin; a listed origin beside it is echoed', () => {
  const policy = policyOf({ origins: ['*', 'https://a.example'] });
  const any = run(policy, 'POST', { origin: 'https://b.example' }).headers;
  assert.equal(any['access-control-allow-origin'], '*');
  const listed = run(policy, 'POST', { origin: 'https://a.example' }).headers;
  assert.equal(listed['access-control-allow-origin'], 'https://a.example');
});

test('max_age is sent in whole seconds; an empty expose_headers sends none', () => {
  const policy = policyOf({
    origins: ['https://a.example'],
    max_age: '90500ms',
    expose_headers: [],
  });
  assert.equal(run(policy, 'OPTIONS', preflight('GET')).headers['access-control-max-age'], '90');
  const actual = run(policy, 'GET', { origin: 'https://a.example' }).headers;
  assert.equal(actual['access-control-expose-headers'], undefined);
  assert.equal(actual.vary, 'origin');
});
