import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAudits } from 'graphql-http';
import { SHOP } from '../fixtures/graphs/shop.ts';
import { startGatewayOver, type GatewayOver } from '../helpers/env.ts';

/**
 * The GraphQL over HTTP audits (graphql-http's `serverAudits`, the suite the spec's authors
 * maintain) against the real gateway. MUST audits must pass; SHOULD and MAY audits are listed
 * and may warn. https://graphql.github.io/graphql-over-http/draft/
 */
describe('GraphQL over HTTP compliance', () => {
  let env: GatewayOver;
  before(async () => {
    // The audits query `__type` (introspection, off in production) and send bare GETs (refused
    // by CSRF prevention): both are policies layered on the protocol, so the audit turns them off.
    env = await startGatewayOver(SHOP, { server: { csrf_prevention: false, introspection: true } });
  });
  after(() => env.close());

  test('every MUST and SHOULD audit passes', async () => {
    const failures: string[] = [];
    for (const audit of serverAudits({ url: () => env.gateway.url })) {
      const result = await audit.fn();
      if (result.status !== 'ok' && !audit.name.startsWith('MAY'))
        failures.push(`${audit.name}: ${result.reason}`);
    }
    assert.deepEqual(failures, []);
  });
});
