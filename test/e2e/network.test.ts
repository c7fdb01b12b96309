import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SHOP } from '../fixtures/graphs/shop.ts';
import { BIN, startGatewayProcess } from '../helpers/gateway-process.ts';
import { post, startSubgraphs, writeProject } from '../helpers/env.ts';

const RECORDER = join(import.meta.dirname, '../helpers/record-network.mjs');

interface Contact {
  kind: 'lookup' | 'connect' | 'ipc';
  host: string;
  port?: number;
}

test('the gateway contacts nothing its config does not name, from start to exit', async (t) => {
  const subgraphs = await startSubgraphs(SHOP);
  const project = await writeProject(subgraphs.servers);
  t.after(async () => {
    await subgraphs.close();
    await project.remove();
  });
  const recorded = join(project.dir, 'network.jsonl');
  const gateway = await startGatewayProcess({
    command: process.execPath,
    args: ['--import', RECORDER, BIN, 'start', '--config', 'supergraph.yaml', '--port', '0'],
    cwd: project.dir,
    // Apollo's own variables, set as on a machine that also runs Apollo tools: still no call.
    env: {
      RECORD_NETWORK_TO: recorded,
      APOLLO_KEY: 'service:shop:secret',
      APOLLO_GRAPH_REF: 'shop@current',
    },
  });
  const answered = await post(gateway.url, { query: '{ me { name reviews { body } } }' });
  assert.equal(answered.status, 200);
  await post(gateway.url, { query: '{ topProducts { name inStock } }' });
  await post(gateway.url, { query: '{ nope }' });
  gateway.child.kill('SIGTERM');
  assert.equal(await gateway.exited, 0);

  const contacts = (await readFile(recorded, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Contact);
  const named = new Set(subgraphs.servers.map((s) => new URL(s.url).host));
  const network = contacts.filter((c) => c.kind !== 'ipc');
  // The recorder works: the subgraph fetches above went through it.
  assert.ok(network.some((c) => c.kind === 'connect'));
  const unnamed = network.filter((c) =>
    c.kind === 'lookup' ? c.host !== '127.0.0.1' : !named.has(`${c.host}:${c.port}`),
  );
  assert.deepEqual(unnamed, []);
  assert.doesNotMatch(gateway.stderr(), /MetadataLookupWarning/);
});
