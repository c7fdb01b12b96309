import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composeSupergraph } from '../../../../src/composition/compose.ts';
import type { Identity } from '../../../../src/kernel/context.ts';
import {
  allows,
  buildAuthModel,
  satisfies,
  sdlForApolloGateway,
  UnsupportedAuthSpecError,
  type PolicyRule,
} from '../../../../src/policies/auth/requirements.ts';

const LINK =
  'extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key", "@authenticated", "@requiresScopes", "@policy"])';

function supergraph(...sdls: string[]): string {
  return composeSupergraph(
    sdls.map((sdl, i) => ({ name: `s${i}`, url: `http://s${i}`, sdl, sourceName: `s${i}` })),
  ).supergraphSdl;
}

function identity(fields: Partial<Identity> = {}): Identity {
  return { kind: 'jwt', subject: 'u1', scopes: [], claims: {}, ...fields };
}

const SDL = supergraph(`${LINK}
type Query {
  open: String
  scoped: String @requiresScopes(scopes: [["a", "b"], ["c"]])
  both: String @requiresScopes(scopes: [["a"]]) @policy(policies: [["staff"], ["robot", "night"]])
  login: String @authenticated
  nothing: String @requiresScopes(scopes: [[]])
  node: Node
  pub: Pub
  secret: Secret
  unknown: String @policy(policies: [["nobody-defined-this"]])
}
interface Node { id: ID! label: String }
type Pub implements Node { id: ID! label: String }
type Secret implements Node @authenticated { id: ID! label: String @requiresScopes(scopes: [["secrets"]]) }
`);

const RULES = new Map<string, PolicyRule>([
  ['staff', { claims: { role: ['staff', 'admin'] } }],
  ['robot', { clientIds: ['cron'] }],
  ['night', { scopes: ['batch'] }],
]);
const { model, warnings } = buildAuthModel(SDL, RULES);
const field = (coordinate: string) => {
  const requirement = model.fields.get(coordinate);
  assert.ok(requirement, `${coordinate} has requirements`);
  return requirement;
};

// [coordinate, caller, allowed, why]
const CASES: [string, Identity | undefined, boolean, string][] = [
  ['Query.login', undefined, false, '@authenticated needs a caller'],
  ['Query.login', identity(), true, 'any verified caller will do'],
  ['Query.scoped', identity({ scopes: ['a', 'b'] }), true, 'one AND list held whole'],
  ['Query.scoped', identity({ scopes: ['c', 'x'] }), true, 'the other AND list'],
  ['Query.scoped', identity({ scopes: ['a'] }), false, 'part of an AND list is not enough'],
  ['Query.scoped', undefined, false, 'an anonymous request has no scopes'],
  ['Query.nothing', undefined, true, 'an empty AND list holds for anyone, as in Apollo Router'],
  [
    'Query.both',
    identity({ scopes: ['a'], claims: { role: 'staff' } }),
    true,
    'scopes and a policy',
  ],
  [
    'Query.both',
    identity({ scopes: ['a'], claims: { role: ['x', 'admin'] } }),
    true,
    'a list claim containing one value',
  ],
  ['Query.both', identity({ scopes: ['a'], claims: { role: 'guest' } }), false, 'the policy fails'],
  ['Query.both', identity({ scopes: [], claims: { role: 'staff' } }), false, 'the scopes fail'],
  [
    'Query.both',
    identity({ scopes: ['a', 'batch'], clientId: 'cron' }),
    true,
    'the other AND list of policies',
  ],
  [
    'Query.both',
    identity({ scopes: ['a', 'batch'], clientId: 'web' }),
    false,
    'robot fails on the client id',
  ],
  ['Query.both', undefined, false, 'no policy holds for an anonymous request'],
  ['Query.unknown', identity({ scopes: ['a', 'b', 'c'] }), false, 'an undefined policy denies'],
  ['Query.secret', undefined, false, 'a type-level directive applies to fields returning the type'],
  ['Secret.id', undefined, false, '... and to the type’s own fields'],
  ['Secret.label', identity(), false, 'a field adds its own to its type’s'],
  ['Secret.label', identity({ scopes: ['secrets'] }), true, 'both held'],
  ['Node.label', identity(), false, 'an interface field needs what every implementation’s needs'],
  ['Node.label', identity({ scopes: ['secrets'] }), true, 'all of them held'],
  ['Query.node', undefined, false, 'an interface needs what each implementation needs'],
];
for (const [coordinate, caller, allowed, why] of CASES) {
  test(`${coordinate} is ${allowed ? 'allowed' : 'denied'} for ${caller ? JSON.stringify({ scopes: caller.scopes, claims: caller.claims, clientId: caller.clientId }) : 'an anonymous request'}: ${why}`, () => {
    assert.equal(allows(model, field(coordinate), caller), allowed);
  });
}

test('fields without requirements are not in the model', () => {
  for (const coordinate of ['Query.open', 'Query.pub', 'Pub.id', 'Pub.label'])
    assert.equal(model.fields.get(coordinate), undefined, coordinate);
});

test('fields with equal requirements share one requirement object', () => {
  assert.equal(model.fields.get('Query.secret'), model.fields.get('Secret.id'));
});

test('a policy no rule defines is a load warning naming where it is used', () => {
  assert.deepEqual(warnings, [
    '@policy "nobody-defined-this" (on Query.unknown) names no policy rule: what needs it is denied to every caller',
  ]);
});

// [rule, caller, holds]
const RULE_CASES: [PolicyRule, Partial<Identity>, boolean][] = [
  [{}, {}, true],
  [{ scopes: ['a', 'b'] }, { scopes: ['b', 'a', 'c'] }, true],
  [{ scopes: ['a', 'b'] }, { scopes: ['a'] }, false],
  [{ claims: { tier: 'gold' } }, { claims: { tier: 'gold' } }, true],
  [{ claims: { tier: 'gold' } }, { claims: { tier: 'silver' } }, false],
  [{ claims: { tier: ['gold', 'silver'] } }, { claims: { tier: 'silver' } }, true],
  [{ claims: { groups: 'ops' } }, { claims: { groups: ['dev', 'ops'] } }, true],
  [{ claims: { level: 1 } }, { claims: { level: '1' } }, false],
  [{ claims: { verified: true } }, { claims: {} }, false],
  [{ clientIds: ['web'] }, { clientId: 'web' }, true],
  [{ clientIds: ['web'] }, {}, false],
  [{ scopes: ['a'], clientIds: ['web'] }, { scopes: ['a'], clientId: 'mobile' }, false],
];
for (const [rule, caller, holds] of RULE_CASES) {
  test(`the rule ${JSON.stringify(rule)} ${holds ? 'holds' : 'fails'} for ${JSON.stringify(caller)}`, () => {
    assert.equal(satisfies(rule, identity(caller)), holds);
  });
}

test('renamed directives are read under their linked names', () => {
  const sdl = `schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
  @link(url: "https://specs.apollo.dev/authenticated/v0.1", as: "loggedIn", for: SECURITY)
  @link(url: "https://specs.apollo.dev/requiresScopes/v0.1", import: [{ name: "@requiresScopes", as: "@scoped" }], for: SECURITY)
{ query: Query }
directive @loggedIn on FIELD_DEFINITION
directive @scoped(scopes: [[String!]!]!) on FIELD_DEFINITION
directive @authenticated on FIELD_DEFINITION
type Query { a: String @loggedIn b: String @scoped(scopes: [["x"]]) c: String @authenticated }`;
  const renamed = buildAuthModel(sdl, new Map()).model;
  assert.equal(renamed.fields.get('Query.a')?.authenticated, true);
  assert.deepEqual(renamed.fields.get('Query.b')?.scopes, [[['x']]]);
  // `@authenticated` is not the spec's here: it was renamed away.
  assert.equal(renamed.fields.get('Query.c'), undefined);
});

test('a supergraph linking another version of a spec is refused at load', () => {
  const sdl = SDL.replace('authenticated/v0.1', 'authenticated/v0.2');
  assert.throws(
    () => buildAuthModel(sdl, new Map()),
    (error: Error) =>
      error instanceof UnsupportedAuthSpecError &&
      /links https:\/\/specs.apollo.dev\/authenticated\/v0.2; this gateway enforces https:\/\/specs.apollo.dev\/authenticated\/v0.1 only/.test(
        error.message,
      ),
  );
});

test('a supergraph without the specs has an empty model', () => {
  const plain = supergraph('type Query { a: String }');
  assert.equal(buildAuthModel(plain, new Map()).model.fields.size, 0);
  assert.equal(sdlForApolloGateway(plain), plain);
});

test('Apollo Gateway is handed the specs it cannot enforce without their purpose, and only those', () => {
  const sdl = SDL.replace(
    '@link(url: "https://specs.apollo.dev/policy/v0.1", for: SECURITY)',
    '@link(url: "https://specs.apollo.dev/policy/v0.1", for: SECURITY)\n  @link(url: "https://example.com/guard/v1.0", for: SECURITY)',
  );
  const handed = sdlForApolloGateway(sdl);
  for (const spec of ['authenticated', 'requiresScopes', 'policy'])
    assert.match(handed, new RegExp(`@link\\(url: "https://specs.apollo.dev/${spec}/v0.1", \\)`));
  assert.match(handed, /@link\(url: "https:\/\/example.com\/guard\/v1.0", for: SECURITY\)/);
  // The rest of the SDL is untouched.
  assert.equal(handed.replaceAll(', )', ', for: SECURITY)'), sdl);
});
