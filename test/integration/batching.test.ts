import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { StageEntry } from '../../src/gateway/pipeline.ts';
import type { RequestContext } from '../../src/kernel/context.ts';
import { GUARDED } from '../fixtures/graphs/guarded.ts';
import { post, startSubgraphs, startTestGateway, writeProject } from '../helpers/env.ts';
import { asCaller, withTestIdentity } from '../helpers/identity.ts';

/**
 * An operation stage after the real ones: records which operation each context it ran for
 * held, and sets a response header named after the operation, as a rate limit sets its headers.
 */
function probe() {
  const seen = new Map<RequestContext, string[]>();
  const stage: StageEntry = {
    name: 'testProbe',
    event: 'operation',
    surfaces: ['graphql'],
    run(ctx) {
      const name = ctx.operation?.name ?? 'anonymous';
      seen.set(ctx, [...(seen.get(ctx) ?? []), name]);
      ctx.responseHeaders.set(`x-probe-${name.toLowerCase()}`, String(ctx.facts.cost));
    },
  };
  return { seen, stages: [...withTestIdentity(), stage] };
}

/** GUARDED's subgraphs and a gateway over them with `extra` config; closed together. */
async function start(extra: Record<string, unknown>) {
  const subgraphs = await startSubgraphs(GUARDED);
  const project = await writeProject(subgraphs.servers, extra);
  const { seen, stages } = probe();
  const gateway = await startTestGateway({ configFile: project.configFile, stages });
  return {
    gateway,
    seen,
    /** Backend calls so far, every subgraph together. */
    calls: () => subgraphs.servers.reduce((sum, s) => sum + s.received.length, 0),
    async close() {
      await gateway.close();
      await subgraphs.close();
      await project.remove();
    },
  };
}

const RESPONSE = { accept: 'application/graphql-response+json' };
const codes = (result: any) => (result.errors ?? []).map((e: any) => e.extensions.code);

describe('batches by default', () => {
  let env: Awaited<ReturnType<typeof start>>;
  before(async () => {
    env = await start({});
  });
  after(() => env.close());

  test('a batch is refused whole with 400 BATCHING_NOT_ENABLED, no backend called', async () => {
    const before = env.calls();
    const response = await post(env.gateway.url, [{ query: '{ me { id } }' }], RESPONSE);
    assert.equal(response.status, 400, response.text);
    assert.deepEqual(codes(response.json), ['BATCHING_NOT_ENABLED']);
    assert.equal(env.calls(), before);
  });
});

describe('batches enabled', () => {
  let env: Awaited<ReturnType<typeof start>>;
  before(async () => {
    env = await start({
      server: { batching: { enabled: true, maximum_size: 3 } },
      limits: { operation: { max_aliases: 1 } },
    });
  });
  after(() => env.close());

  test('a batch is answered 200 with one result per operation, in the order sent', async () => {
    const response = await post(
      env.gateway.url,
      [
        { query: '{ me { name } }' },
        { query: 'query One($id: ID!) { user(id: $id) { name } }', variables: { id: 'u2' } },
        { query: 'query Two { user(id: "u3") { name } }', operationName: 'Two' },
      ],
      RESPONSE,
    );
    assert.equal(response.status, 200, response.text);
    assert.match(String(response.headers['content-type']), /^application\/graphql-response\+json/);
    assert.deepEqual(response.json, [
      { data: { me: { name: 'Ada' } } },
      { data: { user: { name: 'Alan' } } },
      { data: { user: { name: 'Grace' } } },
    ]);
  });

  test('maximum_size operations are served; one more is refused whole with 422 BATCH_LIMIT_EXCEEDED, no backend called', async () => {
    const operation = { query: '{ me { id } }' };
    const served = await post(env.gateway.url, [operation, operation, operation], RESPONSE);
    assert.equal(served.status, 200, served.text);
    assert.equal(served.json.length, 3);

    const before = env.calls();
    const refused = await post(env.gateway.url, Array(4).fill(operation), RESPONSE);
    assert.equal(refused.status, 422, refused.text);
    const [error] = refused.json.errors;
    assert.equal(error.extensions.code, 'BATCH_LIMIT_EXCEEDED');
    assert.deepEqual(
      [error.extensions.limit, error.extensions.max, error.extensions.found],
      ['maximum_size', 3, 4],
    );
    assert.equal(env.calls(), before);
  });

  test('an operation over an operation limit is refused alone; the others are served', async () => {
    const before = env.calls();
    const response = await post(
      env.gateway.url,
      [
        { query: '{ me { name } }' },
        { query: '{ a: me { id } b: me { name } }' },
        { query: '{ user(id: "u2") { name } }' },
      ],
      RESPONSE,
    );
    assert.equal(response.status, 200, response.text);
    const [first, over, last] = response.json;
    assert.deepEqual(first, { data: { me: { name: 'Ada' } } });
    assert.equal(over.data, undefined);
    assert.deepEqual(codes(over), ['MAX_ALIASES_LIMIT']);
    assert.equal(over.errors[0].extensions.found, 2);
    assert.deepEqual(last, { data: { user: { name: 'Alan' } } });
    // One fetch for each served operation, none for the refused one.
    assert.equal(env.calls() - before, 2);
  });

  test('an empty batch, or an entry that is not an operation, is refused whole with 400 and no backend call', async () => {
    const before = env.calls();
    for (const body of [
      [],
      [{ query: '{ me { id } }' }, 42],
      [null],
      [[{ query: '{ me { id } }' }]],
    ]) {
      const response = await post(env.gateway.url, body, RESPONSE);
      assert.equal(response.status, 400, `${JSON.stringify(body)}: ${response.text}`);
      assert.deepEqual(codes(response.json), ['BAD_REQUEST']);
    }
    assert.equal(env.calls(), before);
  });

  test('each operation is estimated on its own: the line lists each cost and their sum', async () => {
    const correlationId = 'batch-cost-1';
    const response = await post(
      env.gateway.url,
      [
        // User object: 1
        { query: 'query Me { me { id name } }' },
        // A list of User, no size given: list_size 10 x 1
        { query: 'query Users { users { id } }' },
        // Mutation base 10, a scalar: 10
        { query: 'mutation Ping { ping }' },
      ],
      { ...RESPONSE, 'x-correlation-id': correlationId },
    );
    assert.equal(response.status, 200, response.text);
    const line = (await env.gateway.logs.find(
      (l) => l.msg === 'request' && l.correlationId === correlationId,
    )) as any;
    assert.equal(line.status, 200);
    assert.equal(line.operationName, undefined);
    assert.deepEqual(
      line.batch.map((op: any) => [op.operationName, op.cost]),
      [
        ['Me', 1],
        ['Users', 10],
        ['Ping', 10],
      ],
    );
    assert.equal(line.cost, 21);
    assert.equal(line.calls.length, 3);
    // Each operation stage ran once per operation, each time over a context holding that
    // operation alone, made from the request's.
    const contexts = [...env.seen].filter(([ctx]) => ctx.correlationId === correlationId);
    assert.deepEqual(contexts.map(([, names]) => names).sort(), [['Me'], ['Ping'], ['Users']]);
    const parents = new Set(contexts.map(([ctx]) => ctx.parent));
    assert.equal(parents.size, 1);
    assert.ok([...parents][0] && !contexts.some(([ctx]) => ctx === [...parents][0]));
  });

  test("headers an operation stage sets reach the batch's response, every operation's", async () => {
    const response = await post(
      env.gateway.url,
      [{ query: 'query Me { me { id } }' }, { query: 'mutation Ping { ping }' }],
      RESPONSE,
    );
    assert.equal(response.status, 200, response.text);
    assert.equal(response.headers['x-probe-me'], '1');
    assert.equal(response.headers['x-probe-ping'], '10');
  });

  test('a mutation in a batch runs, and authorization judges each operation for itself', async () => {
    const batch = [
      { query: 'mutation { rename(id: "u2", name: "Alan T") { name } }' },
      { query: '{ me { name phone } }' },
      { query: '{ me { name } }' },
    ];
    const anonymous = await post(env.gateway.url, batch, RESPONSE);
    assert.equal(anonymous.status, 200, anonymous.text);
    const [rename, phone, plain] = anonymous.json;
    assert.deepEqual(rename.data, { rename: null });
    assert.deepEqual(codes(rename), ['UNAUTHENTICATED']);
    assert.deepEqual(phone.data, { me: { name: 'Ada', phone: null } });
    assert.deepEqual(codes(phone), ['UNAUTHENTICATED']);
    // Served whole: another operation's refused fields are not this one's.
    assert.deepEqual(plain, { data: { me: { name: 'Ada' } } });

    const signedIn = await post(env.gateway.url, batch, { ...RESPONSE, ...asCaller() });
    assert.deepEqual(signedIn.json, [
      { data: { rename: { name: 'Alan T' } } },
      { data: { me: { name: 'Ada', phone: '555-0101' } } },
      { data: { me: { name: 'Ada' } } },
    ]);
  });

  test("persisted queries are looked up per operation: a miss or a wrong hash is that entry's error", async () => {
    const response = await post(
      env.gateway.url,
      [
        { extensions: { persistedQuery: { version: 1, sha256Hash: 'a'.repeat(64) } } },
        {
          query: '{ me { id } }',
          extensions: { persistedQuery: { version: 1, sha256Hash: 'b'.repeat(64) } },
        },
        { query: '{ me { id } }' },
      ],
      RESPONSE,
    );
    assert.equal(response.status, 200, response.text);
    const [miss, mismatch, served] = response.json;
    assert.deepEqual(codes(miss), ['PERSISTED_QUERY_NOT_FOUND']);
    assert.deepEqual(codes(mismatch), ['PERSISTED_QUERY_HASH_MISMATCH']);
    assert.deepEqual(served, { data: { me: { id: 'u1' } } });
  });

  test('a batch asking for a stream or multipart is answered as one JSON array', async () => {
    for (const accept of ['text/event-stream', 'multipart/mixed;deferSpec=20220824']) {
      const response = await post(env.gateway.url, [{ query: '{ me { id } }' }], { accept });
      assert.equal(response.status, 200, `${accept}: ${response.text}`);
      assert.match(String(response.headers['content-type']), /^application\/json/);
      assert.deepEqual(response.json, [{ data: { me: { id: 'u1' } } }]);
    }
  });
});
