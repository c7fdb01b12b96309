// `npm run bench:authorize`: what the `authorize` stage costs a request of the demo graph, in
// process: the stage and the executor's lookup of its decision, and, where fields are left out,
// completing the result. Each case runs the same parsed document over and over, as Apollo Server
// hands it (its document cache returns the same object for a repeated query), each time with a
// fresh request context. Prints one line per case: ns a request, and the same minus an empty
// stage's loop (the context and the lookup alone).
//
// BENCH_ITERATIONS=1000000 (the result-completing case runs a tenth of them)
// The gRPC adapter's protos import google/protobuf/descriptor.proto, which protobufjs knows only
// once @grpc/proto-loader registered it; the gateway's process loads it with its gRPC port.
import '@grpc/proto-loader';
import { parse, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { join } from 'node:path';
import { createOfflineGateway } from '../src/gateway/offline-gateway.ts';
import type { Identity, RequestContext } from '../src/kernel/context.ts';
import { authorizationOf, authorize } from '../src/policies/auth/authorize.ts';
import { buildAuthModel, type AuthModel } from '../src/policies/auth/requirements.ts';
import { configSource, createLoadDeps } from '../src/runtime/sources.ts';
import { DEMO_ANSWER, DEMO_QUERY } from '../test/fixtures/demo.ts';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 1_000_000);
const CONFIG = join(import.meta.dirname, '../supergraph.yaml');

const deps = createLoadDeps();
const snapshot = await configSource(CONFIG, {}).load(deps);
await deps.close();
const gateway = createOfflineGateway({ supergraphSdl: snapshot.gatewaySdl });
const { schema } = (await gateway.load()) as unknown as { schema: GraphQLSchema };
await gateway.stop();

const guarded = snapshot.authModel;
// The same graph without its directives: what the demo was before them.
const plain = buildAuthModel(
  snapshot.supergraph.sdl.replace(
    / @requiresScopes\(scopes: \[[^\n]*\]\)|(?<!directive) @authenticated/g,
    '',
  ),
  new Map(),
).model;
if (guarded.fields.size === 0 || plain.fields.size !== 0) throw new Error('unexpected models');

const WITH_EMAIL = DEMO_QUERY.replace('{ id name orders', '{ id name email orders');
const demo = parse(DEMO_QUERY);
const withEmail = parse(WITH_EMAIL);
const emailAnswer = {
  data: { user: { ...DEMO_ANSWER.data.user } },
} as ExecutionResult;

const scoped: Identity = {
  kind: 'jwt',
  subject: '1',
  scopes: ['users:email', 'orders:read'],
  claims: {},
};

function run(
  name: string,
  model: AuthModel,
  document: DocumentNode,
  identity: Identity | undefined,
  options: { complete?: boolean; stage?: boolean } = {},
): number {
  const snap = { authModel: model };
  const operation = { document, name: undefined, variables: {}, schema };
  const iterations = options.complete ? ITERATIONS / 10 : ITERATIONS;
  const once = () => {
    const ctx = { snapshot: snap, operation, identity } as unknown as RequestContext;
    if (options.stage !== false) authorize(ctx);
    const decision = authorizationOf(ctx);
    if (options.complete && decision) decision.complete(emailAnswer);
  };
  for (let i = 0; i < iterations / 10; i++) once();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) once();
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  console.log(JSON.stringify({ case: name, ns: Math.round(ns) }));
  return ns;
}

const base = run('empty stage (context and lookup only)', guarded, demo, undefined, {
  stage: false,
});
const cases: [string, AuthModel, DocumentNode, Identity | undefined, boolean][] = [
  ['demo query, graph without directives', plain, demo, undefined, false],
  ['demo query, graph with directives, anonymous', guarded, demo, undefined, false],
  ['demo query + email, with users:email', guarded, withEmail, scoped, false],
  ['demo query + email, anonymous: email left out (stage)', guarded, withEmail, undefined, false],
  [
    'demo query + email, anonymous: stage + completing the result',
    guarded,
    withEmail,
    undefined,
    true,
  ],
];
for (const [name, model, document, identity, complete] of cases) {
  const ns = run(name, model, document, identity, { complete });
  console.log(
    JSON.stringify({ case: `${name} (minus the empty stage)`, ns: Math.round(ns - base) }),
  );
}
