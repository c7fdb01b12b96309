import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SHOP, SHOP_QUERIES } from '../fixtures/graphs/shop.ts';
import { EXECUTION_CORPUS, QUIRKS_SDL, quirksSubgraph } from '../fixtures/graphs/quirks.ts';
import { startParityPair } from '../helpers/parity.ts';
import { post, startSubgraphs, type TestGateway } from '../helpers/env.ts';

interface Answer {
  data?: unknown;
  errors?: { message: string; path?: unknown; extensions?: { code?: string } }[];
  extensions?: { valueCompletion?: { message: string; path?: unknown }[] };
}

/** What must be the same: the data, and each error's message, path and code, in order. */
const comparable = (answer: Answer) => ({
  data: answer.data,
  errors: answer.errors?.map((e) => ({
    message: e.message,
    path: e.path,
    code: e.extensions?.code,
  })),
  valueCompletion: answer.extensions?.valueCompletion?.map((e) => ({
    message: e.message,
    path: e.path,
  })),
});

/**
 * The gateway runs query plans with its own executor and compiled response shaping
 * (src/gateway/execution): on the whole corpus (the shop's parity queries and the execution
 * corpus, over the shop and a subgraph that breaks its schema's promises) it must answer exactly
 * what a bare Apollo Gateway answers: data, error messages, paths and codes, and Apollo's
 * post-processing errors in `extensions.valueCompletion`.
 */
describe('plan execution parity with Apollo Gateway on the whole corpus', () => {
  let subgraphs: Awaited<ReturnType<typeof startSubgraphs>>;
  let pair: Awaited<ReturnType<typeof startParityPair>>;
  let ours: TestGateway;
  let bare: { url: string };

  before(async () => {
    subgraphs = await startSubgraphs([...SHOP, quirksSubgraph]);
    // The gateway composes the strict SDL; the quirks server runs the lenient one.
    const declared = subgraphs.servers.map((s) =>
      s.name === 'quirks' ? { ...s, sdl: QUIRKS_SDL } : s,
    );
    // Development mode: messages unmasked and introspection on, as a bare Apollo Gateway has them.
    pair = await startParityPair(declared, { mode: 'development', introspection: true });
    ({ ours, bare } = pair);
  });

  after(async () => {
    await pair.close();
    await subgraphs.close();
  });

  const corpus = { ...SHOP_QUERIES, ...EXECUTION_CORPUS };
  for (const [name, request] of Object.entries(corpus)) {
    test(`answers like Apollo Gateway: ${name}`, async () => {
      const accept = { accept: 'application/graphql-response+json' };
      const [mine, theirs] = await Promise.all([
        post(ours.url, request, accept),
        post(bare.url, request, accept),
      ]);
      assert.deepEqual(comparable(mine.json as Answer), comparable(theirs.json as Answer));
      assert.equal(mine.status, theirs.status);
    });
  }

  test('the corpus reaches every broken answer it is meant to', async () => {
    // A corpus whose quirks came back clean would prove nothing about shaping them.
    const answer = (name: string) => post(bare.url, corpus[name]).then((r) => r.json as Answer);
    assert.equal((await answer('a non-null list element null, up to the root')).data, null);
    const values = await answer('values outside their types');
    assert.ok((values.extensions?.valueCompletion?.length ?? 0) >= 4, JSON.stringify(values));
    const strict = await answer('a non-null object made null by its field');
    assert.deepEqual(strict.data, { quirks: null });
    const typename = await answer('an unknown __typename in a list');
    assert.match(JSON.stringify(typename), /Invalid __typename/);
    const entity = await answer('errors inside an entity fetch, at the client paths');
    assert.deepEqual(entity.errors?.[0]?.path, ['topProducts', 1, 'quirks']);
  });
});
