import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SHOP, SHOP_QUERIES } from '../fixtures/graphs/shop.ts';
import { startParityPair } from '../helpers/parity.ts';
import { post, startSubgraphs, type TestGateway } from '../helpers/env.ts';

/**
 * Our gateway must answer exactly what a bare Apollo Gateway answers: same `data`, and errors
 * where it has errors. Only transport, masking and codes of transport failures may differ.
 */
describe('federation parity with a bare Apollo Gateway', () => {
  let subgraphs: Awaited<ReturnType<typeof startSubgraphs>>;
  let pair: Awaited<ReturnType<typeof startParityPair>>;
  let ours: TestGateway;
  let bare: { url: string };

  before(async () => {
    subgraphs = await startSubgraphs(SHOP);
    pair = await startParityPair(subgraphs.servers);
    ({ ours, bare } = pair);
  });

  after(async () => {
    await pair.close();
    await subgraphs.close();
  });

  for (const [name, request] of Object.entries(SHOP_QUERIES)) {
    test(`answers like Apollo Gateway for ${name}`, async () => {
      // Under graphql-response+json both answer request errors with 400 (under legacy
      // application/json we answer 200, as the spec asks, and Apollo Server 400).
      const accept = { accept: 'application/graphql-response+json' };
      const [mine, theirs] = await Promise.all([
        post(ours.url, request, accept),
        post(bare.url, request, accept),
      ]);
      assert.deepEqual(mine.json.data, theirs.json.data);
      assert.equal(
        Boolean(mine.json.errors),
        Boolean(theirs.json.errors),
        JSON.stringify(mine.json.errors),
      );
      assert.equal(mine.status, theirs.status);
    });
  }

  test('returns the same partial data as Apollo Gateway when a subgraph is down', async () => {
    await subgraphs.byName('inventory').close();
    const request = SHOP_QUERIES['entities across four subgraphs'];
    const [mine, theirs] = await Promise.all([post(ours.url, request), post(bare.url, request)]);
    assert.deepEqual(mine.json.data, theirs.json.data);
    assert.ok(theirs.json.errors.length > 0);
    assert.ok(mine.json.errors.length > 0);
    assert.equal(mine.json.errors[0].extensions.code, 'UPSTREAM_UNAVAILABLE');
    assert.equal(mine.json.errors[0].extensions.subgraph, 'inventory');
  });
});
