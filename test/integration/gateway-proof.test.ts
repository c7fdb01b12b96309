// The demo backends accept only calls carrying the gateway's proof: the internal JWT verified with
// jose against the gateway's JWKS served over HTTP (as /.well-known/jwks.json will be), or the
// HMAC with a shared secret. Real servers on 127.0.0.1, port 0.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import { request } from 'undici';
import { startDemoBackends, type DemoBackends } from '../../demo/backends.ts';
import { loadOrderService, startOrdersGrpc } from '../../demo/backends/orders-grpc.ts';
import { listen, startUsersRest, type RunningBackend } from '../../demo/backends/users-rest.ts';
import {
  createGatewayVerifier,
  DEMO_IDENTITY_HEADERS as H,
  DEMO_PROOF,
  ProofKeysUnavailableError,
  ProofRejectedError,
  type HeaderReader,
} from '../../demo/gateway-verifier.ts';
import type { Identity } from '../../src/kernel/context.ts';
import { GatewayTokens, SharedSecretProof } from '../../src/policies/auth/gateway-proof.ts';

const ADA: Identity = {
  kind: 'jwt',
  subject: '1',
  scopes: ['users:email', 'orders:write'],
  clientId: 'web',
  claims: {},
};
/** The identity headers the gateway sends with ADA's calls. */
const ADA_HEADERS = {
  [H.subject]: '1',
  [H.scopes]: 'users:email orders:write',
  [H.clientId]: 'web',
};

/** The gateway's JWKS route, stood in for: counts fetches, and can answer 503 until told. */
async function serveJwks(tokens: GatewayTokens) {
  const state = { fetches: 0, up: true };
  const server = createServer((_req, res) => {
    state.fetches++;
    res.writeHead(state.up ? 200 : 503, { 'content-type': 'application/json' });
    res.end(state.up ? JSON.stringify(tokens.jwks()) : '{}');
  });
  const running = await listen(server, 0, '127.0.0.1');
  return { state, url: `${running.url}/.well-known/jwks.json`, close: running.close };
}

function ordersClient(address: string) {
  const client = new (loadOrderService())(
    address,
    grpc.credentials.createInsecure(),
  ) as grpc.Client & Record<string, any>;
  const call = (method: string, req: unknown, headers: Record<string, string> = {}) => {
    const metadata = new grpc.Metadata();
    for (const [name, value] of Object.entries(headers)) metadata.set(name, value);
    return new Promise<any>((resolve, reject) =>
      client[method](req, metadata, (e: unknown, r: unknown) => (e ? reject(e) : resolve(r))),
    );
  };
  return { call, close: () => client.close() };
}

describe('demo backends behind the gateway proof (internal JWT, JWKS over HTTP)', () => {
  let tokens: GatewayTokens;
  let jwks: Awaited<ReturnType<typeof serveJwks>>;
  let backends: DemoBackends;
  let orders: ReturnType<typeof ordersClient>;

  before(async () => {
    tokens = new GatewayTokens({ ...DEMO_PROOF });
    jwks = await serveJwks(tokens);
    backends = await startDemoBackends(
      { users: 0, orders: 0, products: 0 },
      { verifier: createGatewayVerifier({ jwksUrl: jwks.url, ...DEMO_PROOF }) },
    );
    orders = ordersClient(backends.orders.url);
  });
  after(async () => {
    orders.close();
    await backends.close();
    await jwks.close();
    tokens.close();
  });

  const proofOf = (identity: Identity | undefined) => ({
    [H.proof]: tokens.proofFor(identity, identity ? ADA_HEADERS : {}),
  });
  const getUser = async (headers: Record<string, string>) => {
    const res = await request(`${backends.users.url}/users/2`, { headers });
    return { status: res.statusCode, body: (await res.body.json()) as any };
  };
  const products = async (headers: Record<string, string>) => {
    const res = await request(backends.products.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query: '{ product(id: "p1") { name } }' }),
    });
    return { status: res.statusCode, body: (await res.body.json()) as any };
  };

  test('the JWKS is not fetched before a call carries a proof', () => {
    assert.equal(jwks.state.fetches, 0);
  });

  test('a direct call to the users REST service without a proof answers 401 with a JSON error', async () => {
    assert.deepEqual(await getUser({}), {
      status: 401,
      body: { error: 'call this service through the gateway' },
    });
  });

  test('a direct call to the products subgraph without a proof answers 401 UNAUTHENTICATED', async () => {
    const { status, body } = await products({});
    assert.equal(status, 401);
    assert.equal(body.errors[0].extensions.code, 'UNAUTHENTICATED');
    assert.equal(body.data, undefined);
  });

  test('a direct call to the orders gRPC service without a proof fails UNAUTHENTICATED', async () => {
    await assert.rejects(orders.call('GetOrder', { id: '1' }), {
      code: grpc.status.UNAUTHENTICATED,
    });
  });

  test('calls with a valid proof are served by all three backends', async () => {
    assert.equal((await getUser(proofOf(ADA))).status, 200);
    assert.deepEqual((await products(proofOf(undefined))).body, {
      data: { product: { name: 'Mechanical keyboard' } },
    });
    const order = await orders.call('GetOrder', { id: '1' }, { ...ADA_HEADERS, ...proofOf(ADA) });
    assert.equal(order.id, '1');
  });

  test('the JWKS was fetched once for all those calls', () => {
    assert.equal(jwks.state.fetches, 1);
  });

  const forged: [string, () => Promise<string> | string][] = [
    ['garbage', () => 'not-a-jwt'],
    [
      'signed by another gateway (a kid the JWKS lacks)',
      () => new GatewayTokens({ ...DEMO_PROOF }).proofFor(ADA, {}),
    ],
    [
      'for another audience',
      () => new GatewayTokens({ ...DEMO_PROOF, audience: 'x' }).proofFor(ADA, {}),
    ],
    [
      'expired',
      () => {
        const old = new GatewayTokens({ ...DEMO_PROOF, now: () => Date.now() - 120_000 });
        return old.proofFor(ADA, {});
      },
    ],
    [
      'alg none',
      () =>
        `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(
          JSON.stringify({
            iss: DEMO_PROOF.issuer,
            aud: DEMO_PROOF.audience,
            sub: '1',
            iat: Math.floor(Date.now() / 1000),
            exp: Math.floor(Date.now() / 1000) + 60,
          }),
        ).toString('base64url')}.`,
    ],
    [
      'HS256 with the public key as the secret',
      () =>
        new SignJWT({ sub: '1' })
          .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: tokens.jwks().keys[0]!.kid })
          .setIssuer(DEMO_PROOF.issuer)
          .setAudience(DEMO_PROOF.audience)
          .setIssuedAt()
          .setExpirationTime('1m')
          .sign(Buffer.from(JSON.stringify(tokens.jwks().keys[0]))),
    ],
  ];
  for (const [name, token] of forged) {
    test(`a proof that is ${name} answers 401`, async () => {
      assert.equal((await getUser({ [H.proof]: await token() })).status, 401);
    });
  }

  test('identity headers that differ from the proof answer 401', async () => {
    // A real proof for an anonymous call, replayed with a made-up subject.
    const spoofed = { ...proofOf(undefined), [H.subject]: '1' };
    assert.equal((await getUser(spoofed)).status, 401);
    await assert.rejects(orders.call('GetOrder', { id: '1' }, spoofed), {
      code: grpc.status.UNAUTHENTICATED,
    });
    const widened = {
      ...ADA_HEADERS,
      ...proofOf(ADA),
      [H.scopes]: 'users:email orders:write admin',
    };
    assert.equal((await getUser(widened)).status, 401);
  });

  test('the users service records who created a user, from the verified identity', async () => {
    const res = await request(`${backends.users.url}/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...ADA_HEADERS, ...proofOf(ADA) },
      body: JSON.stringify({ name: 'Radia Perlman', email: 'radia@example.com' }),
    });
    assert.equal(res.statusCode, 201);
    assert.equal(res.headers['x-created-by'], '1');
    await res.body.dump();
  });
});

describe('the JWKS fetch, lazily and after failures', () => {
  test('backends started before the gateway answer 503 until its JWKS is served, then verify', async (t) => {
    const tokens = new GatewayTokens({ ...DEMO_PROOF });
    const jwks = await serveJwks(tokens);
    jwks.state.up = false;
    const users = await startUsersRest({
      verifier: createGatewayVerifier({ jwksUrl: jwks.url, ...DEMO_PROOF }),
    });
    t.after(async () => {
      await users.close();
      await jwks.close();
    });
    const get = async () => {
      const res = await request(`${users.url}/users/1`, {
        headers: { [H.proof]: tokens.proofFor(undefined, {}) },
      });
      await res.body.dump();
      return res.statusCode;
    };
    assert.equal(await get(), 503);
    jwks.state.up = true;
    assert.equal(await get(), 200);
  });
});

describe('demo backends behind the gateway proof (HMAC with a shared secret)', () => {
  const SECRET = 'demo secret shared with the gateway, 32+ bytes';
  let users: RunningBackend;
  let orders: RunningBackend;
  let client: ReturnType<typeof ordersClient>;
  const signer = new SharedSecretProof({ secret: SECRET, names: H });
  before(async () => {
    const verifier = createGatewayVerifier({ secret: SECRET });
    users = await startUsersRest({ verifier });
    orders = await startOrdersGrpc({ verifier });
    client = ordersClient(orders.url);
  });
  after(async () => {
    client.close();
    await users.close();
    await orders.close();
  });

  test('a call with the proof of its identity headers is served', async () => {
    const headers = { ...ADA_HEADERS, [H.proof]: signer.proofFor(ADA, ADA_HEADERS) };
    const res = await request(`${users.url}/users/1`, { headers });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
    assert.equal((await client.call('GetOrder', { id: '1' }, headers)).id, '1');
  });

  test('a call whose identity headers were changed after signing answers 401 / UNAUTHENTICATED', async () => {
    const headers = {
      ...ADA_HEADERS,
      [H.proof]: signer.proofFor(ADA, ADA_HEADERS),
      [H.subject]: '2',
    };
    const res = await request(`${users.url}/users/1`, { headers });
    assert.equal(res.statusCode, 401);
    await res.body.dump();
    await assert.rejects(client.call('GetOrder', { id: '1' }, headers), {
      code: grpc.status.UNAUTHENTICATED,
    });
  });
});

describe('createGatewayVerifier', () => {
  const tokens = new GatewayTokens({ ...DEMO_PROOF });
  const verifier = createGatewayVerifier({ jwks: tokens.jwks() as never, ...DEMO_PROOF });
  const reader =
    (headers: Record<string, string | string[]>): HeaderReader =>
    (name) =>
      headers[name];

  test('answers the caller from the proof, headers agreeing', async () => {
    const caller = await verifier.verify(
      reader({
        ...ADA_HEADERS,
        [H.scopes]: 'orders:write,users:email',
        [H.proof]: tokens.proofFor(ADA, {}),
      }),
    );
    assert.deepEqual(caller, {
      subject: '1',
      scopes: ['users:email', 'orders:write'],
      clientId: 'web',
    });
  });

  test('answers an anonymous caller with no identity', async () => {
    assert.deepEqual(await verifier.verify(reader({ [H.proof]: tokens.proofFor(undefined, {}) })), {
      scopes: [],
    });
  });

  test('decodes identity headers the gateway percent-encoded (values beyond printable ASCII or with %)', async () => {
    const zoe: Identity = { ...ADA, subject: 'Zoë', clientId: '100%' };
    const sent = {
      [H.subject]: encodeURIComponent('Zoë'),
      [H.scopes]: 'users:email orders:write',
      [H.clientId]: encodeURIComponent('100%'),
    };
    const expected = { subject: 'Zoë', scopes: ['users:email', 'orders:write'], clientId: '100%' };
    assert.deepEqual(
      await verifier.verify(reader({ ...sent, [H.proof]: tokens.proofFor(zoe, sent) })),
      expected,
    );
    const secret = 'x'.repeat(32);
    const hmac = createGatewayVerifier({ secret });
    const signer = new SharedSecretProof({ secret, names: H });
    assert.deepEqual(
      await hmac.verify(reader({ ...sent, [H.proof]: signer.proofFor(zoe, sent) })),
      expected,
    );
    const malformed = { ...sent, [H.subject]: '%E0%A4%A' };
    await assert.rejects(
      hmac.verify(reader({ ...malformed, [H.proof]: signer.proofFor(zoe, malformed) })),
      ProofRejectedError,
    );
  });

  test('refuses a proof sent twice (gRPC metadata can repeat a key)', async () => {
    const proof = tokens.proofFor(ADA, {});
    await assert.rejects(
      verifier.verify(reader({ [H.proof]: [proof, proof] })),
      ProofRejectedError,
    );
  });

  test('a JWKS URL that does not answer is "unavailable", not a rejection', async () => {
    const unreachable = createGatewayVerifier({
      jwksUrl: 'http://127.0.0.1:9/.well-known/jwks.json',
      ...DEMO_PROOF,
    });
    await assert.rejects(
      unreachable.verify(reader({ [H.proof]: tokens.proofFor(ADA, {}) })),
      ProofKeysUnavailableError,
    );
    // Without a proof there is nothing to fetch keys for.
    await assert.rejects(unreachable.verify(reader({})), ProofRejectedError);
  });
});
