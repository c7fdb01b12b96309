import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accounts } from '../fixtures/graphs/shop.ts';
import { post, startSubgraphs, writeProject } from '../helpers/env.ts';
import { BIN, startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.ts';
import { deleteKeys, REDIS_URL, testClient, uniquePrefix } from '../helpers/redis.ts';

const LIMIT = 15;
const INSTANCES = 3;

/**
 * What the issue asks of shared budgets, end to end: separate gateway processes (as behind a load
 * balancer) with one Redis, and ten times the limit of concurrent requests from one caller spread
 * over them: no more than the limit admitted, run after run.
 */
test('three gateway processes sharing Redis admit exactly L of 10L concurrent requests, run after run', async (t) => {
  const subgraphs = await startSubgraphs([accounts]);
  t.after(() => subgraphs.close());
  const prefix = uniquePrefix('shared');
  const project = await writeProject(
    [{ name: 'accounts', url: subgraphs.servers[0]!.url, sdl: accounts.sdl }],
    {
      // The test sends every caller's requests from loopback, naming the caller in
      // X-Forwarded-For as a load balancer would: loopback is the trusted proxy.
      server: { trusted_proxies: ['127.0.0.1', '::1'] },
      limits: {
        store: { kind: 'redis' },
        rate: { policies: [{ name: 'per-minute', limit: LIMIT, window: '60s' }] },
      },
      // A generous command timeout: this measures sharing, not the fallback (redis-outage.test.ts),
      // and a loaded test machine can keep Redis itself waiting for CPU.
      redis: { url: REDIS_URL, key_prefix: prefix, command_timeout: '2s' },
      // Dedup off: each admitted request makes its own backend call, so calls count admissions.
      traffic: { dedup: { enabled: false } },
    },
  );
  const redis = testClient();
  t.after(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
    await project.remove();
  });
  const gateways: GatewayProcess[] = await Promise.all(
    Array.from({ length: INSTANCES }, () =>
      startGatewayProcess({
        command: process.execPath,
        args: [BIN, 'start', '--config', 'supergraph.yaml', '--port', '0'],
        cwd: project.dir,
      }),
    ),
  );
  t.after(async () => {
    for (const gateway of gateways) {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
  });

  const backend = subgraphs.byName('accounts');
  for (let run = 1; run <= 3; run++) {
    // A caller of its own per run: a fresh budget, so every run starts from nothing.
    const caller = { 'x-forwarded-for': `198.51.100.${run}` };
    let calls = 0;
    const count = () => calls++;
    backend.events.on('request', count);
    const answers = await Promise.all(
      Array.from({ length: 10 * LIMIT }, (_, i) =>
        post(gateways[i % INSTANCES]!.url, { query: '{ me { id } }' }, caller),
      ),
    );
    backend.events.off('request', count);
    const admitted = answers.filter((a) => a.status === 200).length;
    const refused = answers.filter((a) => a.status === 429);
    assert.equal(admitted, LIMIT, `run ${run}: ${admitted} admitted`);
    assert.equal(refused.length, 9 * LIMIT, `run ${run}: statuses ${answers.map((a) => a.status)}`);
    assert.equal(calls, LIMIT, `run ${run}: the backend saw only the admitted requests`);
    // Every instance refused someone: the budget is one, not three.
    for (const gateway of gateways)
      assert.ok(
        answers.some((a, i) => gateways[i % INSTANCES] === gateway && a.status === 429),
        'each instance refused some',
      );
    assert.match(String(refused[0]!.headers['retry-after']), /^\d+$/);
  }
});
