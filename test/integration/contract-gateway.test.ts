import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { composeSupergraph } from '../../src/composition/compose.ts';
import { buildContract } from '../../src/composition/contract.ts';
import { accounts } from '../fixtures/graphs/shop.ts';
import { startBareGateway } from '../helpers/bare-gateway.ts';
import { post, startSubgraphs } from '../helpers/env.ts';

/** The shop's accounts subgraph with `users` tagged internal: the contract to hide it. */
const tagged = {
  ...accounts,
  sdl: accounts.sdl
    .replace('"@shareable"]', '"@shareable","@tag"]')
    .replace('users: [User!]!', 'users: [User!]! @tag(name: "internal")'),
};

describe('a contract served by a bare Apollo Gateway', () => {
  let subgraphs: Awaited<ReturnType<typeof startSubgraphs>>;
  let gateway: Awaited<ReturnType<typeof startBareGateway>>;

  before(async () => {
    subgraphs = await startSubgraphs([tagged]);
    const [server] = subgraphs.servers;
    const { supergraphSdl } = composeSupergraph([
      { name: 'accounts', url: server!.url, sdl: tagged.sdl, sourceName: 'accounts.graphql' },
    ]);
    const contract = buildContract(supergraphSdl, { exclude: ['internal'] });
    assert.ok(contract.ok);
    gateway = await startBareGateway(contract.supergraphSdl);
  });
  after(async () => {
    await gateway?.close();
    await subgraphs?.close();
  });

  test('introspection shows only the contract', async () => {
    const { json } = await post(gateway.url, {
      query: '{ __type(name: "Query") { fields { name } } }',
    });
    const names = (json as { data: { __type: { fields: { name: string }[] } } }).data.__type.fields;
    assert.deepEqual(names.map((f) => f.name).sort(), ['me', 'user']);
  });

  test('a hidden field fails validation as an unknown one does, and no suggestion names it', async () => {
    const messages = async (query: string) =>
      ((await post(gateway.url, { query })).json as { errors: { message: string }[] }).errors.map(
        (e) => e.message,
      );
    // graphql-js suggests names from the API schema, where hidden fields do not exist: "user" is
    // visible and suggested, "users" never is, even for a near miss of it.
    assert.deepEqual(await messages('{ users { id } }'), [
      'Cannot query field "users" on type "Query". Did you mean "user"?',
    ]);
    const nearMiss = await messages('{ userss { id } }');
    assert.equal(nearMiss.length, 1);
    assert.doesNotMatch(nearMiss[0] ?? '', /"users"/);
  });

  test('the fields left are served from the subgraph', async () => {
    const { json } = await post(gateway.url, { query: '{ me { name } }' });
    assert.deepEqual(json, { data: { me: { name: 'Ada Lovelace' } } });
  });
});
