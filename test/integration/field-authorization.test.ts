import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { StageEntry } from '../../src/gateway/pipeline.ts';
import { STAGES } from '../../src/gateway/pipeline.ts';
import { MAX_FIELD_ERRORS } from '../../src/policies/auth/authorize.ts';
import { buildAuthModel, type PolicyRule } from '../../src/policies/auth/requirements.ts';
import type { RuntimeSnapshot } from '../../src/runtime/snapshot.ts';
import { GUARDED } from '../fixtures/graphs/guarded.ts';
import { post, startGatewayOver, type GatewayOver } from '../helpers/env.ts';
import { asCaller, withTestIdentity } from '../helpers/identity.ts';
import type { SubgraphServer } from '../helpers/subgraph-server.ts';

/**
 * The policy rules the config will name (issue 18's auth section, wired elsewhere): until then
 * this test-only stage serves each request a model built with them, as the config will.
 */
function withPolicyRules(stages: StageEntry[], rules: ReadonlyMap<string, PolicyRule>) {
  const models = new WeakMap<object, RuntimeSnapshot>();
  const stage: StageEntry = {
    name: 'testPolicyRules',
    event: 'request',
    run(ctx) {
      let snapshot = models.get(ctx.snapshot);
      if (!snapshot) {
        const { model } = buildAuthModel(ctx.snapshot.supergraph.sdl, rules);
        snapshot = { ...ctx.snapshot, authModel: model };
        models.set(ctx.snapshot, snapshot);
      }
      (ctx as { snapshot: RuntimeSnapshot }).snapshot = snapshot;
    },
  };
  return [stage, ...stages];
}

const RULES = new Map<string, PolicyRule>([['finance', { claims: { department: 'finance' } }]]);

/** What each subgraph of GUARDED received. */
type Received = Record<'accounts' | 'billing', string[]>;

/** The queries each subgraph received while `send` ran. */
async function receivedDuring<T>(
  servers: readonly SubgraphServer[],
  send: () => Promise<T>,
): Promise<{ answer: T; received: Received }> {
  const before = servers.map((s) => s.received.length);
  const answer = await send();
  const received = Object.fromEntries(
    servers.map((s, i) => [s.name, s.received.slice(before[i]).map((r) => r.query)]),
  ) as Received;
  return { answer, received };
}

const codes = (json: any) => (json.errors ?? []).map((e: any) => e.extensions.code);
const paths = (json: any) => (json.errors ?? []).map((e: any) => e.path);

describe('field authorization over native subgraphs', () => {
  let env: GatewayOver;
  const ask = (query: string, headers: Record<string, string> = {}, variables?: object) =>
    receivedDuring(env.subgraphs.servers, () =>
      post(env.gateway.url, { query, ...(variables ? { variables } : {}) }, headers),
    );

  before(async () => {
    env = await startGatewayOver(GUARDED, { stages: withPolicyRules(withTestIdentity(), RULES) });
  });

  after(() => env.close());

  test('an @authenticated field asked anonymously is null with UNAUTHENTICATED at its path, and never fetched', async () => {
    const { answer, received } = await ask('{ me { id name phone } }');
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json.data, { me: { id: 'u1', name: 'Ada', phone: null } });
    assert.deepEqual(answer.json.errors, [
      {
        message: 'Field "User.phone" needs an authenticated caller.',
        locations: [{ line: 1, column: 16 }],
        path: ['me', 'phone'],
        extensions: { code: 'UNAUTHENTICATED' },
      },
    ]);
    assert.deepEqual(received.accounts, ['{me{id name}}']);
  });

  test('the same field is served to any verified caller', async () => {
    const { answer, received } = await ask('{ me { id name phone } }', asCaller());
    assert.deepEqual(answer.json, { data: { me: { id: 'u1', name: 'Ada', phone: '555-0101' } } });
    assert.deepEqual(received.accounts, ['{me{id name phone}}']);
  });

  test('a subgraph needed only for a denied field gets no request at all', async () => {
    for (const headers of [{}, asCaller({ claims: { department: 'sales' } })]) {
      const { answer, received } = await ask('{ me { name balance } }', headers);
      assert.deepEqual(answer.json.data, { me: { name: 'Ada', balance: null } });
      assert.deepEqual(paths(answer.json), [['me', 'balance']]);
      assert.deepEqual(received.billing, []);
    }
  });

  test('@policy is decided by its rule: a caller the rule admits reads the field', async () => {
    const { answer, received } = await ask(
      '{ me { name balance } }',
      asCaller({ claims: { department: 'finance' } }),
    );
    assert.deepEqual(answer.json, { data: { me: { name: 'Ada', balance: 200 } } });
    assert.equal(received.billing.length, 1);
  });

  test('@policy denies a verified caller outside the rule with FORBIDDEN, an anonymous one with UNAUTHENTICATED', async () => {
    const forbidden = await ask('{ me { balance } }', asCaller({ claims: { department: 'x' } }));
    assert.deepEqual(codes(forbidden.answer.json), ['FORBIDDEN']);
    const anonymous = await ask('{ me { balance } }');
    assert.deepEqual(codes(anonymous.answer.json), ['UNAUTHENTICATED']);
  });

  // ssn needs [["pii:read", "users:read"], ["admin"]]; it is non-null, so denied it nulls the user.
  const SSN_CASES: [string[], boolean][] = [
    [['pii:read', 'users:read'], true],
    [['admin'], true],
    [['users:read', 'admin', 'other'], true],
    [['pii:read'], false],
    [['users:read'], false],
    [[], false],
  ];
  for (const [scopes, allowed] of SSN_CASES) {
    test(`@requiresScopes is an OR of AND lists: scopes [${scopes.join(' ')}] ${allowed ? 'read' : 'do not read'} the field`, async () => {
      const { answer, received } = await ask('{ me { name ssn } }', asCaller({ scopes }));
      if (allowed) {
        assert.deepEqual(answer.json, { data: { me: { name: 'Ada', ssn: '1111' } } });
        assert.deepEqual(received.accounts, ['{me{name ssn}}']);
      } else {
        assert.deepEqual(answer.json.data, { me: null });
        assert.deepEqual(codes(answer.json), ['FORBIDDEN']);
        assert.deepEqual(paths(answer.json), [['me', 'ssn']]);
        assert.deepEqual(received.accounts, ['{me{name}}']);
      }
    });
  }

  test('a denied non-null field nulls its nearest nullable parent, up to data itself', async () => {
    // users: [User!]!, so a null user nulls the list, which nulls data.
    const { answer } = await ask('{ users { name ssn } }');
    assert.equal(answer.status, 200);
    assert.equal(answer.json.data, null);
    assert.deepEqual(paths(answer.json), [
      ['users', 0, 'ssn'],
      ['users', 1, 'ssn'],
      ['users', 2, 'ssn'],
    ]);
    // Through a nullable field the null stops there.
    const nested = await ask('{ user(id: "u2") { name ssn } users { id } }');
    assert.deepEqual(nested.answer.json.data, {
      user: null,
      users: [{ id: 'u1' }, { id: 'u2' }, { id: 'u3' }],
    });
  });

  test('in a list of objects each denied field has its error at its own path', async () => {
    const { answer, received } = await ask('{ users { id email } }', asCaller());
    assert.deepEqual(answer.json.data, {
      users: [
        { id: 'u1', email: null },
        { id: 'u2', email: null },
        { id: 'u3', email: null },
      ],
    });
    assert.deepEqual(paths(answer.json), [
      ['users', 0, 'email'],
      ['users', 1, 'email'],
      ['users', 2, 'email'],
    ]);
    assert.deepEqual(received.accounts, ['{users{id}}']);
  });

  test(`at most ${MAX_FIELD_ERRORS} errors name paths; one more counts the rest`, async () => {
    const { answer } = await ask('{ crowd { id email } }');
    assert.equal(answer.json.data.crowd.length, 150);
    assert.ok(answer.json.data.crowd.every((u: any) => u.email === null));
    assert.equal(answer.json.errors.length, MAX_FIELD_ERRORS + 1);
    assert.deepEqual(answer.json.errors[MAX_FIELD_ERRORS - 1].path, ['crowd', 99, 'email']);
    assert.deepEqual(answer.json.errors[MAX_FIELD_ERRORS], {
      message: '50 more fields were left out for this caller: their values are null too.',
      extensions: { code: 'UNAUTHENTICATED', omitted: 50 },
    });
  });

  test('a type-level directive guards the fields returning the type and the type’s own fields', async () => {
    const denied = await ask('{ me { name stats { logins } } }', asCaller());
    assert.deepEqual(denied.answer.json.data, { me: { name: 'Ada', stats: null } });
    assert.deepEqual(paths(denied.answer.json), [['me', 'stats']]);
    assert.deepEqual(denied.received.accounts, ['{me{name}}']);
    const allowed = await ask('{ me { stats { logins } } }', asCaller({ scopes: ['stats'] }));
    assert.deepEqual(allowed.answer.json, { data: { me: { stats: { logins: 2 } } } });
  });

  test('a field in a named fragment on an interface needs what every implementation needs', async () => {
    const query = '{ contents { id ...C } } fragment C on Content { title }';
    const denied = await ask(query, asCaller());
    assert.deepEqual(denied.answer.json.data, {
      contents: [
        { id: 'n1', title: null },
        { id: 'v1', title: null },
        { id: 'n2', title: null },
      ],
    });
    assert.deepEqual(codes(denied.answer.json), ['FORBIDDEN', 'FORBIDDEN', 'FORBIDDEN']);
    assert.doesNotMatch(denied.received.accounts.join(), /title/);
    const allowed = await ask(query, asCaller({ scopes: ['vault'] }));
    assert.equal(allowed.answer.json.errors, undefined);
    assert.equal(allowed.answer.json.data.contents[1].title, 'Vault');
  });

  test('a field in an inline fragment on an implementation is left out only where the type matches', async () => {
    const { answer, received } = await ask(
      '{ contents { id ... on Vault { secret } ... on Note { body } } }',
      asCaller(),
    );
    assert.deepEqual(answer.json.data, {
      contents: [
        { id: 'n1', body: 'Hello' },
        { id: 'v1', secret: null },
        { id: 'n2', body: 'World' },
      ],
    });
    assert.deepEqual(paths(answer.json), [['contents', 1, 'secret']]);
    assert.doesNotMatch(received.accounts.join(), /secret/);
  });

  test('an implementation’s field read through its own fragment is not denied by the interface’s', async () => {
    // Content.title needs vault (Vault.title does); Note.title needs nothing.
    const { answer } = await ask('{ contents { id title ... on Note { title } } }', asCaller());
    assert.deepEqual(answer.json.data, {
      contents: [
        { id: 'n1', title: 'Public note' },
        { id: 'v1', title: null },
        { id: 'n2', title: 'Another note' },
      ],
    });
    assert.deepEqual(paths(answer.json), [['contents', 1, 'title']]);
  });

  test('fields inside a named fragment spread in two places are left out at both', async () => {
    const { answer } = await ask(
      '{ me { ...U } user(id: "u3") { ...U } } fragment U on User { name email }',
    );
    assert.deepEqual(answer.json.data, {
      me: { name: 'Ada', email: null },
      user: { name: 'Grace', email: null },
    });
    assert.deepEqual(paths(answer.json), [
      ['me', 'email'],
      ['user', 'email'],
    ]);
  });

  test('a fragment left with no field, and a selection left empty, still run', async () => {
    const { answer, received } = await ask(
      '{ me { ...Private } users { email } } fragment Private on User { email phone }',
    );
    assert.deepEqual(answer.json.data, {
      me: { email: null, phone: null },
      users: [{ email: null }, { email: null }, { email: null }],
    });
    assert.equal(answer.json.errors.length, 5);
    assert.doesNotMatch(received.accounts.join(), /email|phone/);
  });

  test('aliases of a denied field are each null with an error at the alias', async () => {
    const { answer } = await ask('{ me { a: email b: email name } }');
    assert.deepEqual(answer.json.data, { me: { a: null, b: null, name: 'Ada' } });
    assert.deepEqual(paths(answer.json), [
      ['me', 'a'],
      ['me', 'b'],
    ]);
    // Keys keep the operation's order.
    assert.deepEqual(Object.keys(answer.json.data.me), ['a', 'b', 'name']);
  });

  test('@skip and @include apply as graphql-js applies them: a skipped denied field has no error', async () => {
    const query = 'query($show: Boolean!) { me { name email @include(if: $show) } }';
    const hidden = await ask(query, {}, { show: false });
    assert.deepEqual(hidden.answer.json, { data: { me: { name: 'Ada' } } });
    const shown = await ask(query, {}, { show: true });
    assert.deepEqual(shown.answer.json.data, { me: { name: 'Ada', email: null } });
    assert.deepEqual(paths(shown.answer.json), [['me', 'email']]);
  });

  test('variables are checked against the operation as sent, whatever the caller may read', async () => {
    const query = 'query($id: ID!) { user(id: $id) { email } }';
    const allowed = await ask(query, asCaller({ scopes: ['users:email'] }));
    const denied = await ask(query);
    assert.equal(denied.answer.status, allowed.answer.status);
    assert.deepEqual(denied.answer.json, allowed.answer.json);
    assert.match(
      denied.answer.json.errors[0].message,
      /Variable "\$id" of required type "ID!" was not provided/,
    );
    assert.deepEqual(denied.received, { accounts: [], billing: [] });
  });

  test('an operation whose root fields are all denied is answered without calling any subgraph', async () => {
    const { answer, received } = await ask('{ adminNote }');
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json.data, { adminNote: null });
    assert.deepEqual(codes(answer.json), ['UNAUTHENTICATED']);
    assert.deepEqual(received, { accounts: [], billing: [] });
    // A non-null root field nulls data.
    const nonNull = await ask('{ count adminNote }', asCaller());
    assert.equal(nonNull.answer.json.data, null);
    assert.deepEqual(paths(nonNull.answer.json), [['count']]);
    assert.deepEqual(nonNull.received, { accounts: ['{adminNote}'], billing: [] });
  });

  test('a denied mutation is not sent; the operation’s other mutations run', async () => {
    const { answer, received } = await ask(
      'mutation { rename(id: "u1", name: "Augusta") { name } ping }',
    );
    assert.deepEqual(answer.json.data, { rename: null, ping: 'pong' });
    assert.deepEqual(codes(answer.json), ['UNAUTHENTICATED']);
    assert.deepEqual(received.accounts, ['mutation{ping}']);
  });

  test('two callers sending the same query text never share a query plan', async () => {
    // The same text, hence the same queryHash, alternately allowed and denied: a plan cached for
    // one must never serve the other.
    const query = '{ users { id name email } }';
    const allowed = asCaller({ scopes: ['users:email'] });
    for (const headers of [allowed, {}, allowed, {}, asCaller({ scopes: ['other'] }), allowed]) {
      const { answer, received } = await ask(query, headers);
      const mayRead = headers === allowed;
      assert.deepEqual(
        received.accounts,
        [mayRead ? '{users{id name email}}' : '{users{id name}}'],
        JSON.stringify(headers),
      );
      assert.equal(answer.json.data.users[0].email, mayRead ? 'ada@example.com' : null);
      assert.equal(answer.json.errors?.length, mayRead ? undefined : 3);
    }
  });

  test('the same text under each of its operation names is planned apart for each caller', async () => {
    const query = 'query A { me { email } } query B { me { name email } }';
    const allowed = asCaller({ scopes: ['users:email'] });
    for (const [headers, operationName] of [
      [allowed, 'B'],
      [{}, 'B'],
      [allowed, 'A'],
      [{}, 'A'],
      [allowed, 'B'],
      [{}, 'A'],
    ] as const) {
      const { answer, received } = await receivedDuring(env.subgraphs.servers, () =>
        post(env.gateway.url, { query, operationName }, headers),
      );
      const mayRead = headers === allowed;
      assert.equal(answer.json.data.me.email, mayRead ? 'ada@example.com' : null);
      assert.equal(received.accounts.length, 1);
      assert.equal(/email/.test(received.accounts[0]!), mayRead, received.accounts[0]);
      assert.equal(/\bname\b/.test(received.accounts[0]!), operationName === 'B');
    }
  });
});

describe('field authorization without the authorize stage', () => {
  let env: GatewayOver;

  before(async () => {
    env = await startGatewayOver(GUARDED, {
      stages: STAGES.filter((stage) => stage.name !== 'authorize'),
    });
  });

  after(() => env.close());

  test('a graph with requirements is not served unchecked', async () => {
    const { answer, received } = await receivedDuring(env.subgraphs.servers, () =>
      post(env.gateway.url, { query: '{ me { name } }' }),
    );
    assert.equal(answer.status, 500);
    assert.deepEqual(codes(answer.json), ['INTERNAL_SERVER_ERROR']);
    assert.deepEqual(received, { accounts: [], billing: [] });
  });
});
