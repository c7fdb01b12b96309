import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SHOP } from '../fixtures/graphs/shop.ts';
import { get, post, startGatewayOver, type GatewayOver, type HttpResult } from '../helpers/env.ts';

/** pino's numeric levels. */
const LEVEL = { info: 30, error: 50 } as const;

/**
 * Every error the gateway answers with is logged once, with the correlation id, at the level its
 * code calls for (kernel/errors.ts logLevelOf): a client's mistake at info, a failure at error.
 */
describe('error log levels', () => {
  let env: GatewayOver;
  before(async () => {
    env = await startGatewayOver(SHOP, { server: { mode: 'production' } });
  });
  after(() => env.close());

  const cases: [
    name: string,
    send: (url: string, headers: Record<string, string>) => Promise<HttpResult>,
    code: string,
    level: keyof typeof LEVEL,
  ][] = [
    [
      'a query that does not parse',
      (url, h) => post(url, { query: '{ me {' }, h),
      'GRAPHQL_PARSE_FAILED',
      'info',
    ],
    [
      'a query that does not validate',
      (url, h) => post(url, { query: '{ me { nme } }' }, h),
      'GRAPHQL_VALIDATION_FAILED',
      'info',
    ],
    [
      'a persisted query hash the gateway has not seen',
      (url, h) =>
        post(
          url,
          { extensions: { persistedQuery: { version: 1, sha256Hash: 'ab'.repeat(32) } } },
          h,
        ),
      'PERSISTED_QUERY_NOT_FOUND',
      'info',
    ],
    ['a path nothing serves', (url, h) => get(new URL('/nope', url).href, h), 'NOT_FOUND', 'info'],
  ];

  for (const [name, send, code, level] of cases) {
    test(`${name} answers ${code} and logs it at ${level}`, async () => {
      const correlationId = `log-${code.toLowerCase()}`;
      const res = await send(env.gateway.url, { 'x-correlation-id': correlationId });
      assert.match(res.text, new RegExp(`"${code}"`));
      const logged = env.gateway.logs.lines.filter(
        (line) => line.correlationId === correlationId && line.code === code,
      );
      assert.equal(logged.length, 1, JSON.stringify(logged));
      assert.equal(logged[0]!.level, LEVEL[level]);
    });
  }
});
