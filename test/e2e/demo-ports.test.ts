import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { loadOrderService } from '../../demo/backends/orders-grpc.ts';
import { DEMO_PORTS } from '../../demo/ports.ts';
import { DEMO_ANSWER, DEMO_QUERY } from '../fixtures/demo.ts';
import { get, post } from '../helpers/env.ts';

const ROOT = join(import.meta.dirname, '../..');

/** package.json's script `name` (`node <args>`), run by the node that runs the tests. */
function scriptArgs(name: string): string[] {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const [command, ...args] = (scripts[name] ?? '').split(' ');
  assert.equal(command, 'node', `npm run ${name} runs node directly`);
  return args;
}

/**
 * The environment with every demo port variable unset, so only DEMO_PORT_BASE (or what a test
 * sets) decides: a developer's own PORT or GRPC_PORT must not leak in.
 */
function demoEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, DEMO_PORT_BASE: '', GRPC_ADDRESS: '' };
  for (const { variable } of Object.values(DEMO_PORTS)) env[variable] = '';
  return { ...env, ...extra };
}

async function isFree(port: number): Promise<boolean> {
  const probe = createServer();
  probe.listen({ port, host: '127.0.0.1', exclusive: true });
  try {
    await once(probe, 'listening');
  } catch {
    return false;
  }
  await new Promise((resolve) => probe.close(resolve));
  return true;
}

/**
 * A base whose every derived port is free now. Drawn from 10000-19400, not higher: the gRPC port
 * is base + 46051, and it must stay a port (at most 65535).
 */
async function freeBase(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 10_000 + Math.floor(Math.random() * 9_400);
    const ports = Object.values(DEMO_PORTS).map(({ offset }) => base + offset);
    let free = true;
    for (const port of ports) if (!(free = await isFree(port))) break;
    if (free) return base;
  }
  throw new Error('no free block of demo ports found');
}

async function occupy(port: number): Promise<Server> {
  const server = createServer().listen({ port, host: '127.0.0.1', exclusive: true });
  await once(server, 'listening');
  return server;
}

/** Spawns `node <args>` in the repository; stopped by its PID after the test if still running. */
function run(
  t: { after(fn: () => unknown): void },
  args: string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; exited: Promise<unknown[]>; stderr(): string } {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit');
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
  });
  return { child, exited, stderr: () => stderr };
}

async function usersClient(env: Record<string, string>): Promise<{ code: unknown; out: string }> {
  const client = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'demo/users-client.ts'), 'get', '1'],
    { cwd: ROOT, env: demoEnv(env), stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let out = '';
  client.stdout.on('data', (chunk: Buffer) => (out += chunk));
  const [code] = await once(client, 'exit');
  return { code, out };
}

test('DEMO_PORT_BASE moves every port npm start opens: the gateway on the base, each backend and the gRPC port on its offset', async (t) => {
  const base = await freeBase();
  const keysDir = await mkdtemp(join(tmpdir(), 'demo-keys-'));
  t.after(() => rm(keysDir, { recursive: true, force: true }));
  const { child, exited } = run(
    t,
    scriptArgs('start'),
    demoEnv({ DEMO_PORT_BASE: String(base), DEMO_KEYS_DIR: keysDir }),
  );
  const backends = new Map<string, string>();
  let url: string | undefined;
  let grpcAddress: string | undefined;
  for await (const line of createInterface({ input: child.stdout! })) {
    const backend = /^demo: (users REST|orders gRPC|products|dev issuer) +(\S+)/.exec(line);
    if (backend) backends.set(backend[1] as string, backend[2] as string);
    if (line.includes('"msg":"gRPC port listening"'))
      grpcAddress = (JSON.parse(line) as { address: string }).address;
    if (line.includes('"msg":"gateway listening"')) {
      url = (JSON.parse(line) as { url: string }).url;
      break;
    }
  }
  child.stdout!.resume();
  // The demo contract's layout, moved as a block: 4000, 4201-4204 and 50051 at the default base.
  assert.equal(url, `http://127.0.0.1:${base}/graphql`);
  assert.equal(grpcAddress, `127.0.0.1:${base + 46_051}`);
  assert.deepEqual(Object.fromEntries(backends), {
    'users REST': `http://127.0.0.1:${base + 201}`,
    'orders gRPC': `127.0.0.1:${base + 202}`,
    products: `http://127.0.0.1:${base + 203}/graphql`,
    'dev issuer': `http://127.0.0.1:${base + 204}/.well-known/jwks.json`,
  });

  // supergraph.yaml found every backend where the demo put it: the query reaches all three.
  const answer = await post(url, { query: DEMO_QUERY });
  assert.deepEqual(answer.json, DEMO_ANSWER);
  // The enum as each surface names it (README): GraphQL drops the type's prefix (order 5 is
  // PENDING in DEMO_ANSWER), REST by transcoding keeps the proto's full name.
  const order = await get(`http://127.0.0.1:${base}/v1/orders/5`);
  assert.equal(order.json.status, 'ORDER_STATUS_PENDING');

  // users-client finds the gateway's gRPC port from the base, and from GRPC_PORT alone.
  const ada = { id: '1', name: 'Ada Lovelace', email: 'ada@example.com' };
  const envs: Record<string, string>[] = [
    { DEMO_PORT_BASE: String(base) },
    { GRPC_PORT: String(base + 46_051) },
  ];
  for (const env of envs) {
    const { code, out } = await usersClient(env);
    assert.equal(code, 0, `users-client with ${JSON.stringify(env)}`);
    assert.deepEqual(JSON.parse(out), ada);
  }

  process.kill(child.pid!, 'SIGINT');
  const [code] = await exited;
  assert.equal(code, 0);
});

test('a demo port already in use makes npm start exit 1 naming the port, what wanted it and the variable to set', async (t) => {
  const base = await freeBase();
  const cases: { taken: number; env: Record<string, string>; message: string }[] = [
    {
      taken: base + 202,
      env: {},
      message: `demo: port ${base + 202} (orders gRPC backend) is in use: set DEMO_PORT_BASE (or ORDERS_PORT) to move it`,
    },
    {
      taken: base,
      env: {},
      message: `demo: port ${base} (gateway) is in use: set DEMO_PORT_BASE (or PORT) to move it`,
    },
    {
      taken: base + 46_051,
      env: {},
      message: `demo: port ${base + 46_051} (gateway gRPC port) is in use: set DEMO_PORT_BASE (or GRPC_PORT) to move it`,
    },
    // Set by its own variable, the port does not move with the base: only that variable is named.
    {
      taken: base + 500,
      env: { USERS_PORT: String(base + 500) },
      message: `demo: port ${base + 500} (users REST backend) is in use: set USERS_PORT to move it`,
    },
  ];
  for (const { taken, env, message } of cases) {
    const blocker = await occupy(taken);
    try {
      const { exited, stderr } = run(
        t,
        scriptArgs('start'),
        demoEnv({ DEMO_PORT_BASE: String(base), ...env }),
      );
      const [code] = await exited;
      assert.equal(code, 1, message);
      assert.equal(stderr().trim(), message);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  }
});

test('npm run demo:backend -- orders starts the orders backend alone on its port, answers gRPC, and stops on SIGTERM', async (t) => {
  const base = await freeBase();
  const { child, exited } = run(
    t,
    [...scriptArgs('demo:backend'), 'orders'],
    demoEnv({ DEMO_PORT_BASE: String(base) }),
  );
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const { value: listening } = await lines.next();
  const address = `127.0.0.1:${base + 202}`;
  assert.equal(
    listening,
    `demo: orders gRPC backend listening on ${address} (a gateway finds it with ORDERS_ADDRESS=${address})`,
  );

  // Alone, it serves a direct call: there is no gateway whose proof it could ask for.
  const client = new (loadOrderService())(address, grpc.credentials.createInsecure());
  t.after(() => client.close());
  const order = await new Promise<{ id: string; status: string }>((resolve, reject) =>
    (
      client.GetOrder as (
        request: object,
        callback: (error: grpc.ServiceError | null, reply: { id: string; status: string }) => void,
      ) => void
    ).call(client, { id: '1' }, (error, reply) => (error ? reject(error) : resolve(reply))),
  );
  assert.deepEqual(
    { id: order.id, status: order.status },
    { id: '1', status: 'ORDER_STATUS_DELIVERED' },
  );

  process.kill(child.pid!, 'SIGTERM');
  const [code] = await exited;
  assert.equal(code, 0);
  assert.equal((await lines.next()).value, 'demo: orders gRPC backend stopped (SIGTERM)');
});

test('npm run demo:backend with an unknown name exits 2 and lists the backends it knows', async (t) => {
  const { exited, stderr } = run(t, [...scriptArgs('demo:backend'), 'payments'], demoEnv({}));
  const [code] = await exited;
  assert.equal(code, 2);
  assert.match(
    stderr(),
    /^demo:backend: unknown backend "payments"; the demo backends are: users, orders, products, issuer$/m,
  );
});
