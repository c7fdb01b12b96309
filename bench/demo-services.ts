// Child process of the bench: the demo backends (users REST, orders gRPC, products subgraph) and
// the development token issuer on ephemeral ports, as `npm start` runs them: each backend refuses
// a call without the gateway's proof, checked against the gateway's JWKS. Prints one JSON line:
// the environment the demo's supergraph.yaml reads, and a token of the issuer for user 1.
//
//   bench/demo-services.ts <gateway port> <keys dir>
// The gateway's port is chosen before it starts (the backends must know where its JWKS is; it is
// fetched on the first call); the issuer's key is made in <keys dir>, never in .demo-keys/.
import { startDemoBackends } from '../demo/backends.ts';
import { loadOrCreateDevIssuerKey, mintDevToken, startDevIssuer } from '../demo/dev-issuer.ts';
import { createGatewayVerifier, DEMO_PROOF } from '../demo/gateway-verifier.ts';

const [gatewayPort, keysDir] = process.argv.slice(2);
if (!gatewayPort || !keysDir) throw new Error('usage: demo-services.ts <gateway port> <keys dir>');
const issuer = await startDevIssuer({ keysDir });
const backends = await startDemoBackends(
  { users: 0, orders: 0, products: 0 },
  {
    verifier: createGatewayVerifier({
      jwksUrl: `http://127.0.0.1:${gatewayPort}/.well-known/jwks.json`,
      ...DEMO_PROOF,
    }),
  },
);
// No scopes: the home the bench asks for reads nothing that needs one. Valid longer than any run.
const token = await mintDevToken(await loadOrCreateDevIssuerKey(keysDir), {
  sub: '1',
  ttlS: 24 * 3600,
});
process.stdout.write(
  `${JSON.stringify({ env: { ...backends.env, DEV_ISSUER_JWKS_URL: issuer.jwksUrl }, token })}\n`,
);
process.on(
  'SIGTERM',
  () => void Promise.all([backends.close(), issuer.close()]).then(() => process.exit(0)),
);
