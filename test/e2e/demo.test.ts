import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DEMO_ANSWER, DEMO_QUERY } from '../fixtures/demo.ts';
import { post } from '../helpers/env.ts';

const ROOT = join(import.meta.dirname, '../..');

test('npm start serves the demo query across REST, gRPC and GraphQL backends, and Ctrl-C stops it all', async () => {
  // What `npm start` runs, on ephemeral ports so the test never collides with a running demo.
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'demo/start.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: '0',
      USERS_PORT: '0',
      ORDERS_PORT: '0',
      PRODUCTS_PORT: '0',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  let url: string | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    if (line.includes('"msg":"gateway listening"')) {
      url = (JSON.parse(line) as { url: string }).url;
      break;
    }
  }
  assert.ok(url, 'the gateway never said it was listening');
  child.stdout.resume();

  const res = await post(url, { query: DEMO_QUERY });
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, DEMO_ANSWER);

  child.kill('SIGINT');
  const [code] = await exited;
  assert.equal(code, 0);
  await assert.rejects(post(url, { query: DEMO_QUERY }), { code: 'ECONNREFUSED' });
});
