import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { SHOP } from '../fixtures/graphs/shop.ts';
import { BIN, startGatewayProcess } from '../helpers/gateway-process.ts';
import { get, post, startSubgraphs, writeProject } from '../helpers/env.ts';

const ROOT = join(import.meta.dirname, '../..');

/**
 * The process forms docs/operations.md tells operators to run, and the exit codes it documents.
 * Each form must be the process the signal reaches: `npx gateway start` is npm, which exits on
 * SIGTERM and leaves the gateway running without it.
 */
describe('running the gateway as a service', () => {
  let subgraphs: Awaited<ReturnType<typeof startSubgraphs>>;
  let project: Awaited<ReturnType<typeof writeProject>>;

  before(async () => {
    // Each answer takes 1 s, so a request is still in flight when the signal arrives.
    subgraphs = await startSubgraphs(SHOP, 1_000);
    project = await writeProject(subgraphs.servers);
  });

  after(async () => {
    await subgraphs.close();
    await project.remove();
  });

  test('the installed bin gets SIGTERM itself: it drains a request in flight and exits 0', async () => {
    // An install as npm lays it out: the package under node_modules, its bin linked in .bin.
    const modules = join(project.dir, 'node_modules');
    await mkdir(join(modules, '.bin'), { recursive: true });
    await symlink(ROOT, join(modules, 'federation-gateway'), 'dir');
    const installed = join(modules, '.bin', 'gateway');
    await symlink('../federation-gateway/bin/gateway.js', installed);

    const gateway = await startGatewayProcess({
      command: installed,
      args: ['start', '--config', 'supergraph.yaml', '--port', '0'],
      cwd: project.dir,
      // The bin's `#!/usr/bin/env node` finds the node running the tests.
      env: { PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}` },
    });
    const inFlight = post(gateway.url, { query: '{ me { name } }' });
    await once(subgraphs.byName('accounts').events, 'request');
    gateway.child.kill('SIGTERM');
    const [res, code] = await Promise.all([inFlight, gateway.exited]);
    assert.deepEqual(res.json, { data: { me: { name: 'Ada Lovelace' } } });
    assert.equal(code, 0);
    await assert.rejects(get(new URL('/healthz', gateway.url).href), { code: 'ECONNREFUSED' });
  });

  test('a shutdown that cuts requests at shutdown_timeout exits 3', async () => {
    const config = await readFile(project.configFile, 'utf8');
    await project.write('short.yaml', `${config}server:\n  shutdown_timeout: 100ms\n`);
    const gateway = await startGatewayProcess({
      command: process.execPath,
      args: [BIN, 'start', '--config', 'short.yaml', '--port', '0'],
      cwd: project.dir,
    });
    const inFlight = post(gateway.url, { query: '{ me { name } }' }).then(
      () => 'answered',
      (error: Error & { code?: string }) => error.code,
    );
    await once(subgraphs.byName('accounts').events, 'request');
    gateway.child.kill('SIGTERM');
    const [outcome, code] = await Promise.all([inFlight, gateway.exited]);
    assert.equal(outcome, 'UND_ERR_SOCKET', 'the request was cut');
    assert.equal(code, 3);
  });
});
