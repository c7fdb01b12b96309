// Every port the demo opens, in one table: each is an offset from DEMO_PORT_BASE (default 4000,
// which gives the demo contract's numbers: gateway 4000, admin 4001, backends 4201-4204, gRPC
// 50051), and each has its own variable, which wins over the base. `npm start`,
// `npm run demo:backend` and `npm run users-client` all read it, so they agree on where
// everything is.
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';

/** The variable that moves every demo port at once. */
export const DEMO_PORT_BASE = 'DEMO_PORT_BASE';
/** The demo contract's base (shared/DESIGN.md): the gateway on 4000. */
export const DEFAULT_DEMO_PORT_BASE = 4000;

export interface DemoPortSpec {
  /** The variable that sets this port alone; it wins over the base. */
  readonly variable: string;
  /** The port is DEMO_PORT_BASE + offset. */
  readonly offset: number;
  /** What listens there, as messages name it. */
  readonly role: string;
}

/**
 * Offsets from the base. Warning: the defaults are the demo contract (4000, 4001, 4201-4204,
 * 50051) that the README, docs and users of the demo rely on; change an offset and they move.
 * The gRPC port keeps its distance from the gateway (50051 - 4000 = 46051), so it stays 50051 by
 * default and moves with the base like the rest.
 */
export const DEMO_PORTS = {
  gateway: { variable: 'PORT', offset: 0, role: 'gateway' },
  admin: { variable: 'ADMIN_PORT', offset: 1, role: 'gateway admin listener' },
  users: { variable: 'USERS_PORT', offset: 201, role: 'users REST backend' },
  orders: { variable: 'ORDERS_PORT', offset: 202, role: 'orders gRPC backend' },
  products: { variable: 'PRODUCTS_PORT', offset: 203, role: 'products subgraph backend' },
  issuer: { variable: 'DEV_ISSUER_PORT', offset: 204, role: 'development token issuer' },
  grpc: { variable: 'GRPC_PORT', offset: 46_051, role: 'gateway gRPC port' },
} as const satisfies Record<string, DemoPortSpec>;

export type DemoPortName = keyof typeof DEMO_PORTS;

export interface DemoPort extends DemoPortSpec {
  readonly name: DemoPortName;
  /** 0 means any free port (only when a variable says 0). */
  readonly port: number;
  /** Whether the port's own variable set it (then the base does not move it). */
  readonly fromVariable: boolean;
}

/** A demo variable whose value is not a usable port; the message names it. */
export class DemoPortError extends Error {}

/** A demo port something else already listens on; the message names the variable to change. */
export class DemoPortInUseError extends DemoPortError {
  readonly demoPort: DemoPort;
  constructor(demoPort: DemoPort) {
    const { port, role, variable, fromVariable } = demoPort;
    // Its own variable set the port, so the base would not move it: name that variable alone.
    super(
      `port ${port} (${role}) is in use: set ${
        fromVariable ? variable : `${DEMO_PORT_BASE} (or ${variable})`
      } to move it`,
    );
    this.demoPort = demoPort;
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function parsePort(variable: string, value: string): number {
  const port = Number(value);
  if (value.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new DemoPortError(`${variable} must be a port number from 0 to 65535, got "${value}"`);
  }
  return port;
}

/** DEMO_PORT_BASE, else 4000. 0 gives every port a free one, as 0 does for a single variable. */
export function demoPortBase(env: Env = process.env): number {
  const value = env[DEMO_PORT_BASE];
  return value === undefined || value === ''
    ? DEFAULT_DEMO_PORT_BASE
    : parsePort(DEMO_PORT_BASE, value);
}

/** One demo port: its variable if set, else the base plus its offset. */
export function demoPort(name: DemoPortName, env: Env = process.env): DemoPort {
  const spec = DEMO_PORTS[name];
  const own = env[spec.variable];
  if (own !== undefined && own !== '') {
    return { name, ...spec, port: parsePort(spec.variable, own), fromVariable: true };
  }
  const base = demoPortBase(env);
  const port = base === 0 ? 0 : base + spec.offset;
  if (port > 65_535) {
    // The gRPC offset is the large one: a base past 19484 puts it out of range.
    throw new DemoPortError(
      `${DEMO_PORT_BASE}=${base} puts the ${spec.role} at ${port}, past 65535: use a base up to ${
        65_535 - spec.offset
      }, or set ${spec.variable}`,
    );
  }
  return { name, ...spec, port, fromVariable: false };
}

/** Every demo port, resolved from `env`; throws DemoPortError naming a bad variable. */
export function demoPorts(env: Env = process.env): Record<DemoPortName, DemoPort> {
  return Object.fromEntries(
    (Object.keys(DEMO_PORTS) as DemoPortName[]).map((name) => [name, demoPort(name, env)]),
  ) as Record<DemoPortName, DemoPort>;
}

/** Node's EADDRINUSE, or grpc-js's bind failure, which carries it in its message only. */
export function isAddressInUse(error: unknown): boolean {
  return (
    (error as { code?: unknown } | null)?.code === 'EADDRINUSE' ||
    /EADDRINUSE|address already in use/i.test(String(error))
  );
}

/**
 * Throws DemoPortInUseError for the first of `ports` something already listens on, before the
 * demo opens any: a clash is named with its variable instead of surfacing from deep in a server.
 * Ports set to 0 are skipped. (Something may still take a port between this check and the real
 * bind; the callers map that failure to the same message.)
 */
export async function assertPortsFree(ports: readonly DemoPort[], host = '127.0.0.1') {
  for (const demo of ports) {
    if (demo.port === 0) continue;
    const probe = createServer();
    probe.listen({ port: demo.port, host, exclusive: true });
    try {
      await once(probe, 'listening');
    } catch (error) {
      if (isAddressInUse(error)) throw new DemoPortInUseError(demo);
      throw error;
    }
    await new Promise((resolve) => probe.close(resolve));
  }
}

/**
 * A port free on loopback right now, for a process that must be told its port before it starts
 * (a gateway whose JWKS URL the backends need, an instance the balancer names). Another process
 * may take it before it is used; the demo's processes start at once.
 */
export async function freeLoopbackPort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
