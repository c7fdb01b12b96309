// `npm run bench:auth`: what authentication costs a request, in process, without the load's
// noise: the `authenticate` stage with each kind of credential (the same token every time, as a
// client sends it between refreshes: the verified-token cache answers), and the identityHeaders
// interceptor with the gateway's proof on five backend calls (the federation case's fetches).
// Prints µs a request for each case, and the same minus the bare loop.
//
// BENCH_ITERATIONS=200000
import { createHash, randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createRequestContext, createScope, type RequestContext } from '../src/kernel/context.ts';
import { DEFAULT_IDENTITY_NAMES } from '../src/kernel/outbound.ts';
import { ApiKeys } from '../src/policies/auth/api-keys.ts';
import { authenticate, type Credentials } from '../src/policies/auth/authenticate.ts';
import { GatewayTokens } from '../src/policies/auth/gateway-proof.ts';
import { JwksPool } from '../src/policies/auth/jwks.ts';
import { JwtVerifier } from '../src/policies/auth/jwt.ts';
import type { ChainExchange } from '../src/policies/traffic/exchange.ts';
import { identityHeaders } from '../src/policies/traffic/identity.ts';
import type { RuntimeSnapshot } from '../src/runtime/snapshot.ts';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 200_000);
const CALLS = 5;
const ISSUER = 'https://bench.example/';

const rsa = await generateKeyPair('RS256');
const ec = await generateKeyPair('ES256');
const jwks = {
  keys: [
    { ...(await exportJWK(rsa.publicKey)), kid: 'rsa', alg: 'RS256' },
    { ...(await exportJWK(ec.publicKey)), kid: 'ec', alg: 'ES256' },
  ],
};
const pool = new JwksPool();
const jwt = new JwtVerifier(
  [{ issuer: ISSUER, audiences: ['bench'], keys: { kind: 'jwks', jwks } }],
  { pool },
);
await jwt.start();
const apiKey = `gw_${randomBytes(32).toString('base64url')}`;
const keys = new ApiKeys([
  {
    name: 'bench',
    sha256: createHash('sha256').update(apiKey).digest('hex'),
    clientId: 'bench',
    scopes: ['users:email'],
  },
]);
const credentials: Credentials = {
  surfaces: { graphql: 'optional', rest: 'optional', grpc: 'optional' },
  realm: 'gateway',
  jwt,
  apiKeys: { header: 'x-api-key', keys },
  ready: () => Promise.resolve(),
  close: () => jwt.close(),
};
const sign = (alg: string, key: Parameters<InstanceType<typeof SignJWT>['sign']>[0], kid: string) =>
  new SignJWT({ scope: 'users:email orders:read' })
    .setProtectedHeader({ alg, kid, typ: 'JWT' })
    .setIssuer(ISSUER)
    .setAudience('bench')
    .setSubject('user-1')
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(key);

const scope = createScope();
const snapshot = { credentials } as unknown as RuntimeSnapshot;
const contextOf = (headers: Record<string, string>): RequestContext =>
  createRequestContext({
    scope,
    snapshot,
    surface: 'graphql',
    clientAddress: '127.0.0.1',
    method: 'POST',
    path: '/graphql',
    headers,
    startedAt: 0,
    timeoutMs: 30_000,
    correlationHeader: 'x-correlation-id',
  });

const tokens = new GatewayTokens({ issuer: 'gateway', audience: 'backends' });
const send = identityHeaders(DEFAULT_IDENTITY_NAMES, tokens)(() => Promise.resolve(undefined));
const noProof = identityHeaders(
  DEFAULT_IDENTITY_NAMES,
  undefined,
)(() => Promise.resolve(undefined));

async function run(
  name: string,
  headers: Record<string, string>,
  options: { authenticate: boolean; proof: boolean },
): Promise<number> {
  const once = async () => {
    const ctx = contextOf(headers);
    if (options.authenticate) await authenticate(ctx);
    const interceptor = options.proof ? send : noProof;
    for (let i = 0; i < CALLS; i++)
      await interceptor({ ctx, headers: {} } as unknown as ChainExchange);
  };
  for (let i = 0; i < ITERATIONS / 10; i++) await once();
  const started = process.hrtime.bigint();
  for (let i = 0; i < ITERATIONS; i++) await once();
  const us = Number(process.hrtime.bigint() - started) / 1_000 / ITERATIONS;
  console.log(`| ${name} | ${us.toFixed(2)} |`);
  return us;
}

console.log(`node ${process.version}, ${ITERATIONS} requests a case, ${CALLS} backend calls each`);
console.log('| case | µs a request |');
console.log('| --- | ---: |');
const base = await run(
  'auth off: the loop, no credential read, no proof',
  {},
  {
    authenticate: false,
    proof: false,
  },
);
const cases: [string, Record<string, string>, boolean][] = [
  ['anonymous, proof on every call', {}, true],
  [
    'JWT RS256 (cached), proof',
    { authorization: `Bearer ${await sign('RS256', rsa.privateKey, 'rsa')}` },
    true,
  ],
  [
    'JWT ES256 (cached), proof',
    { authorization: `Bearer ${await sign('ES256', ec.privateKey, 'ec')}` },
    true,
  ],
  ['API key, proof', { 'x-api-key': apiKey }, true],
];
const results: string[] = [];
for (const [name, headers, proof] of cases) {
  const us = await run(name, headers, { authenticate: true, proof });
  results.push(`${name}: ${(us - base).toFixed(2)} µs over auth off`);
}
console.log(`\n${results.join('\n')}`);
jwt.close();
pool.close();
tokens.close();
