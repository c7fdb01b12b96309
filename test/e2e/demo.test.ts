import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DEMO_ANSWER, DEMO_QUERY } from '../fixtures/demo.ts';
import { get, post } from '../helpers/env.ts';

const ROOT = join(import.meta.dirname, '../..');

/** package.json's `start` script (`node <args>`), run by the node that runs the tests. */
function startArgs(): string[] {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  const [command, ...args] = scripts.start.split(' ');
  assert.equal(command, 'node', 'npm start runs node directly');
  return args;
}

test('npm start serves the demo query, the orders REST API, the users gRPC API, and Ctrl-C stops it all', async (t) => {
  // The dev issuer's key goes to a temporary folder, not the checkout's .demo-keys/.
  const keysDir = await mkdtemp(join(tmpdir(), 'demo-keys-'));
  t.after(() => rm(keysDir, { recursive: true, force: true }));
  // What `npm start` runs, on ephemeral ports so the test never collides with a running demo.
  const child = spawn(process.execPath, startArgs(), {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      USERS_PORT: '0',
      ORDERS_PORT: '0',
      PRODUCTS_PORT: '0',
      GRPC_PORT: '0',
      ADMIN_PORT: '0',
      DEV_ISSUER_PORT: '0',
      DEMO_KEYS_DIR: keysDir,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  // A failed assertion must not leave the demo running.
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGINT');
  });
  let url: string | undefined;
  let grpcAddress: string | undefined;
  let usersUrl: string | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    usersUrl ??= /^demo: users REST +(\S+)/.exec(line)?.[1];
    if (line.includes('"msg":"gRPC port listening"'))
      grpcAddress = (JSON.parse(line) as { address: string }).address;
    if (line.includes('"msg":"gateway listening"')) {
      url = (JSON.parse(line) as { url: string }).url;
      break;
    }
  }
  assert.ok(url, 'the gateway never said it was listening');
  assert.ok(grpcAddress, 'the gateway never opened its gRPC port');
  child.stdout.resume();

  // The backends take calls from the gateway only: a direct one lacks its proof.
  assert.ok(usersUrl, 'the demo never printed the users service URL');
  const direct = await get(`${usersUrl}/users/1`);
  assert.equal(direct.status, 401);

  const res = await post(url, { query: DEMO_QUERY });
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, DEMO_ANSWER);

  // The mobile home, aggregated by the BFF subgraph's resolvers: an anonymous caller still gets
  // the recommendations (the catalog's first products).
  const home = await post(url, { query: '{ home { recommended { name } } }' });
  assert.deepEqual(home.json, {
    data: {
      home: {
        recommended: [
          { name: 'Mechanical keyboard' },
          { name: 'Wireless mouse' },
          { name: '27-inch monitor' },
        ],
      },
    },
  });

  // The orders gRPC service as REST, by its google.api.http annotations.
  const origin = new URL(url).origin;
  const order = await get(`${origin}/v1/orders/1`);
  assert.equal(order.status, 200);
  assert.equal(order.json.userId, '1');
  assert.equal(order.json.status, 'ORDER_STATUS_DELIVERED');
  // The users REST service through a plain route.
  const user = await get(`${origin}/api/users/2`);
  assert.deepEqual(user.json, { id: '2', name: 'Alan Turing', email: 'alan@example.com' });
  // The users REST service over gRPC, with the client script the README shows.
  const client = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'demo/users-client.ts'), 'get', '3'],
    {
      cwd: ROOT,
      env: { ...process.env, GRPC_ADDRESS: grpcAddress },
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  let printed = '';
  client.stdout.on('data', (chunk: Buffer) => (printed += chunk));
  const [clientCode] = await once(client, 'exit');
  assert.equal(clientCode, 0);
  assert.deepEqual(JSON.parse(printed), {
    id: '3',
    name: 'Grace Hopper',
    email: 'grace@example.com',
  });

  child.kill('SIGINT');
  const [code] = await exited;
  assert.equal(code, 0);
  await assert.rejects(post(url, { query: DEMO_QUERY }), { code: 'ECONNREFUSED' });
});
