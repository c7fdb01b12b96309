// `npm start`: the demo backends and the development token issuer on loopback, then the gateway
// as its own process, exactly as an operator runs it. Ctrl-C stops the gateway (which drains)
// and then the rest.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DemoBackendStartError, startDemoBackends } from './backends.ts';
import { DEMO_KEYS_DIR, startDevIssuer } from './dev-issuer.ts';
import { createGatewayVerifier, DEMO_PROOF } from './gateway-verifier.ts';
import {
  assertPortsFree,
  DemoPortError,
  DemoPortInUseError,
  demoPorts,
  freeLoopbackPort as freePort,
  isAddressInUse,
  type DemoPort,
} from './ports.ts';

const ROOT = join(import.meta.dirname, '..');

/** A bind that failed because its port is taken becomes the message naming the variable. */
function explainBind(demo: DemoPort, error: unknown): unknown {
  return isAddressInUse(error) ? new DemoPortInUseError(demo) : error;
}

async function main() {
  // Every port from DEMO_PORT_BASE and the per-port variables (demo/ports.ts).
  const ports = demoPorts();
  const mode = process.env.GATEWAY_MODE ?? 'development';
  // Everything the demo will open is checked first, the gateway's ports too, so a clash is
  // named with its variable before anything starts. The admin listener opens in production only.
  await assertPortsFree([
    ports.issuer,
    ports.users,
    ports.orders,
    ports.products,
    ports.gateway,
    ports.grpc,
    ...(mode === 'production' ? [ports.admin] : []),
  ]);
  // The backends fetch the gateway's JWKS, so they must know its port before it listens.
  const gatewayPort = ports.gateway.port || (await freePort());
  const issuer = await startDevIssuer({
    port: ports.issuer.port,
    keysDir: process.env.DEMO_KEYS_DIR || DEMO_KEYS_DIR,
  }).catch((error: unknown) => {
    throw explainBind(ports.issuer, error);
  });
  let backends;
  try {
    backends = await startDemoBackends(
      { users: ports.users.port, orders: ports.orders.port, products: ports.products.port },
      {
        // Fetched on the first call, so it does not matter that the gateway is not up yet.
        verifier: createGatewayVerifier({
          jwksUrl: `http://127.0.0.1:${gatewayPort}/.well-known/jwks.json`,
          ...DEMO_PROOF,
        }),
      },
    );
  } catch (error) {
    await issuer.close();
    throw error instanceof DemoBackendStartError
      ? explainBind(ports[error.backend], error.cause)
      : error;
  }
  console.log(`demo: users REST     ${backends.users.url}`);
  console.log(`demo: orders gRPC    ${backends.orders.url}`);
  console.log(`demo: products       ${backends.products.url}`);
  console.log(
    `demo: dev issuer     ${issuer.jwksUrl} (a token: npm run token -- --sub 1 --scopes "users:email")`,
  );

  // The `gateway` command itself, so the demo runs the gateway as production does: types
  // stripped by Node where it can, tsx only where it cannot (bin/typescript-loader.js).
  const gateway = spawn(
    process.execPath,
    [join(ROOT, 'bin/gateway.js'), 'start', '--config', join(ROOT, 'supergraph.yaml')],
    {
      cwd: ROOT,
      stdio: 'inherit',
      env: {
        ...process.env,
        GATEWAY_MODE: mode,
        // What supergraph.yaml's ${VAR:-default} values read: where the demo put everything.
        ...backends.env,
        PORT: String(gatewayPort),
        GRPC_PORT: String(ports.grpc.port),
        ADMIN_PORT: String(ports.admin.port),
        DEV_ISSUER_JWKS_URL: issuer.jwksUrl,
      },
      // Its own process group: Ctrl-C reaches only us, and we send the gateway exactly one
      // SIGTERM (a second signal would make it skip draining).
      detached: true,
    },
  );
  let stopping = false;
  const stop = () => {
    if (stopping || gateway.exitCode !== null) return;
    stopping = true;
    gateway.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.on('exit', () => {
    if (gateway.exitCode === null) gateway.kill('SIGKILL');
  });
  gateway.once('exit', (code, signal) => {
    void Promise.all([backends.close(), issuer.close()]).then(() =>
      process.exit(code ?? (signal ? 1 : 0)),
    );
  });
}

main().catch((error: unknown) => {
  // A port taken or a variable that is not a port: the message says what to change, and a stack
  // would only bury it. Wrong values exit 2, as the gateway's usage errors do.
  if (error instanceof DemoPortError) {
    console.error(`demo: ${error.message}`);
    process.exit(error instanceof DemoPortInUseError ? 1 : 2);
  }
  console.error(`demo: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
