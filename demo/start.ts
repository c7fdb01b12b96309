// `npm start`: the demo backends and the development token issuer on loopback, then the gateway
// as its own process, exactly as an operator runs it. Ctrl-C stops the gateway (which drains)
// and then the rest.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startDemoBackends, type DemoPorts } from './backends.ts';
import { DEMO_KEYS_DIR, DEV_ISSUER_PORT, startDevIssuer } from './dev-issuer.ts';
import { createGatewayVerifier, DEMO_PROOF } from './gateway-verifier.ts';

const ROOT = join(import.meta.dirname, '..');
const PORTS: Record<keyof DemoPorts, [string, number]> = {
  users: ['USERS_PORT', 4201],
  orders: ['ORDERS_PORT', 4202],
  products: ['PRODUCTS_PORT', 4203],
};

/**
 * The gateway's port unless PORT says otherwise: the demo contract's 4000. The gateway is always
 * given PORT, so it listens where the backends fetch its JWKS from, whatever supergraph.yaml says.
 */
const GATEWAY_PORT = 4000;

/**
 * The admin listener's port in the demo contract (`/readyz` with its details and `/metrics`
 * move there in production mode; the demo runs in development, where the public port keeps
 * them): ADMIN_PORT, else 4001.
 */
const ADMIN_PORT = '4001';

function portFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 0 || value > 65_535) {
    throw new Error(`${name} must be a port number, got "${process.env[name]}"`);
  }
  return value;
}

function portsFromEnv(): DemoPorts {
  const ports: DemoPorts = {};
  for (const [key, [name, fallback]] of Object.entries(PORTS) as [
    keyof DemoPorts,
    [string, number],
  ][]) {
    ports[key] = portFromEnv(name, fallback);
  }
  return ports;
}

/** A port free right now, for a gateway asked to take any (PORT=0) whose JWKS URL we must name. */
async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function main() {
  const ports = portsFromEnv();
  // The backends fetch the gateway's JWKS, so they must know its port before it listens.
  const gatewayPort = portFromEnv('PORT', GATEWAY_PORT) || (await freePort());
  let issuer;
  let backends;
  try {
    issuer = await startDevIssuer({
      port: portFromEnv('DEV_ISSUER_PORT', DEV_ISSUER_PORT),
      keysDir: process.env.DEMO_KEYS_DIR || DEMO_KEYS_DIR,
    });
    backends = await startDemoBackends(ports, {
      // Fetched on the first call, so it does not matter that the gateway is not up yet.
      verifier: createGatewayVerifier({
        jwksUrl: `http://127.0.0.1:${gatewayPort}/.well-known/jwks.json`,
        ...DEMO_PROOF,
      }),
    });
  } catch (error) {
    await issuer?.close();
    const { code, port } = error as { code?: string; port?: number };
    if (
      code === 'EADDRINUSE' ||
      /EADDRINUSE|address already in use|No address added/i.test(String(error))
    ) {
      const taken = [...Object.values(PORTS), ['DEV_ISSUER_PORT', DEV_ISSUER_PORT] as const].find(
        ([, p]) => p === port,
      );
      console.error(
        `demo: a backend port is already in use${port ? ` (${port})` : ''}; free it or set ${
          taken?.[0] ?? 'USERS_PORT, ORDERS_PORT, PRODUCTS_PORT or DEV_ISSUER_PORT'
        } to another port (0 picks a free one).`,
      );
      process.exit(1);
    }
    throw error;
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
        GATEWAY_MODE: process.env.GATEWAY_MODE ?? 'development',
        ...backends.env,
        PORT: String(gatewayPort),
        ADMIN_PORT: process.env.ADMIN_PORT ?? ADMIN_PORT,
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
  console.error(`demo: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
