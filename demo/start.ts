// `npm start`: the demo backends on loopback, then the gateway as its own process, exactly as an
// operator runs it. Ctrl-C stops the gateway (which drains) and then the backends.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startDemoBackends, type DemoPorts } from './backends.ts';

const ROOT = join(import.meta.dirname, '..');
const PORTS: Record<keyof DemoPorts, [string, number]> = {
  users: ['USERS_PORT', 4201],
  orders: ['ORDERS_PORT', 4202],
  products: ['PRODUCTS_PORT', 4203],
};

function portsFromEnv(): DemoPorts {
  const ports: DemoPorts = {};
  for (const [key, [name, fallback]] of Object.entries(PORTS) as [
    keyof DemoPorts,
    [string, number],
  ][]) {
    const value = Number(process.env[name] ?? fallback);
    if (!Number.isInteger(value) || value < 0 || value > 65_535) {
      throw new Error(`${name} must be a port number, got "${process.env[name]}"`);
    }
    ports[key] = value;
  }
  return ports;
}

async function main() {
  const ports = portsFromEnv();
  let backends;
  try {
    backends = await startDemoBackends(ports);
  } catch (error) {
    const { code, port } = error as { code?: string; port?: number };
    if (
      code === 'EADDRINUSE' ||
      /EADDRINUSE|address already in use|No address added/i.test(String(error))
    ) {
      const taken = Object.values(PORTS).find(([, p]) => p === port);
      console.error(
        `demo: a backend port is already in use${port ? ` (${port})` : ''}; free it or set ${
          taken?.[0] ?? 'USERS_PORT, ORDERS_PORT or PRODUCTS_PORT'
        } to another port (0 picks a free one).`,
      );
      process.exit(1);
    }
    throw error;
  }
  console.log(`demo: users REST     ${backends.users.url}`);
  console.log(`demo: orders gRPC    ${backends.orders.url}`);
  console.log(`demo: products       ${backends.products.url}`);

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
    void backends.close().then(() => process.exit(code ?? (signal ? 1 : 0)));
  });
}

main().catch((error: unknown) => {
  console.error(`demo: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
