// `npm run demo:backend -- <name>`: one demo backend alone, on the port `npm start` gives it
// (DEMO_PORT_BASE, or its own variable: demo/ports.ts), with the same seeded data. Handy for
// trying one adapter, or for pointing a gateway started by hand at it. Started alone, a backend
// serves every caller: there is no gateway whose proof it could check. Ctrl-C (SIGINT) or
// SIGTERM stops it.
import { startDemoBackend, type DemoBackendName } from './backends.ts';
import type { RunningBackend } from './backends/users-rest.ts';
import { DEMO_KEYS_DIR, startDevIssuer } from './dev-issuer.ts';
import { DemoPortError, DemoPortInUseError, demoPort, isAddressInUse } from './ports.ts';

/** Each backend, and the variable through which a gateway finds it (supergraph.yaml). */
const BACKENDS: Record<DemoBackendName | 'issuer', { gatewayVariable: string }> = {
  users: { gatewayVariable: 'USERS_URL' },
  orders: { gatewayVariable: 'ORDERS_ADDRESS' },
  products: { gatewayVariable: 'PRODUCTS_SUBGRAPH_URL' },
  issuer: { gatewayVariable: 'DEV_ISSUER_JWKS_URL' },
};
type Name = keyof typeof BACKENDS;

const NAMES = Object.keys(BACKENDS).join(', ');
const USAGE = `usage: npm run demo:backend -- <${Object.keys(BACKENDS).join('|')}>
Starts one demo backend on its npm start port: DEMO_PORT_BASE (default 4000) plus its offset,
or its own variable (USERS_PORT, ORDERS_PORT, PRODUCTS_PORT, DEV_ISSUER_PORT).`;

function isName(value: string): value is Name {
  return Object.hasOwn(BACKENDS, value);
}

async function main(args: string[]): Promise<void> {
  const [name, ...extra] = args;
  if (name === '--help' || name === '-h') {
    console.log(USAGE);
    return;
  }
  if (name === undefined || extra.length > 0 || !isName(name)) {
    console.error(
      name === undefined
        ? `demo:backend: name one backend: ${NAMES}`
        : `demo:backend: ${extra.length > 0 ? 'one backend at a time' : `unknown backend "${name}"`}; the demo backends are: ${NAMES}`,
    );
    console.error(USAGE);
    process.exit(2);
  }
  const port = demoPort(name === 'issuer' ? 'issuer' : name);
  let running: RunningBackend & { jwksUrl?: string };
  try {
    running =
      name === 'issuer'
        ? await startDevIssuer({
            port: port.port,
            keysDir: process.env.DEMO_KEYS_DIR || DEMO_KEYS_DIR,
          })
        : await startDemoBackend(name, port.port);
  } catch (error) {
    throw isAddressInUse(error) ? new DemoPortInUseError(port) : error;
  }
  const where = running.jwksUrl ?? running.url;
  console.log(
    `demo: ${port.role} listening on ${where} (a gateway finds it with ${BACKENDS[name].gatewayVariable}=${where})`,
  );
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    void running.close().then(() => {
      console.log(`demo: ${port.role} stopped (${signal})`);
      process.exit(0);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof DemoPortError) {
    console.error(`demo:backend: ${error.message}`);
    process.exit(error instanceof DemoPortInUseError ? 1 : 2);
  }
  console.error(`demo:backend: ${(error as Error).stack ?? String(error)}`);
  process.exit(1);
});
