import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { stringify } from 'yaml';
import { MAPPING_PROTOS, startMappingServer } from '../fixtures/protos/mapping-server.ts';
import { get, post, startTestGateway, writeProject } from '../helpers/env.ts';

/** A port nothing listens on (taken from the OS, then released). */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('a gRPC backend down at startup does not stop the gateway, and is served once it comes up', async (t) => {
  const port = await freePort();
  const project = await writeProject([]);
  t.after(() => project.remove());
  await project.write(
    'supergraph.yaml',
    stringify({
      subgraphs: {
        mapping: {
          source: {
            kind: 'grpc',
            address: `127.0.0.1:${port}`,
            protos: ['mapping/v1/mapping.proto'],
            include_dirs: [MAPPING_PROTOS],
            timeout: '500ms',
          },
        },
      },
    }),
  );
  const gateway = await startTestGateway({ configFile: project.configFile });
  t.after(() => gateway.close());

  const down = await post(gateway.url, { query: 'mutation { echo(aString: "x") { aString } }' });
  assert.equal(down.json.errors[0].extensions.code, 'UPSTREAM_UNAVAILABLE');
  const ready = await get(`${gateway.adminOrigin}/readyz`);
  assert.equal(ready.status, 200);
  assert.equal(ready.json.backends.mapping.health, 'UNREACHABLE');

  const service = await startMappingServer(port);
  t.after(() => service.close());
  // grpc-js reconnects on its own backoff; there is no event to await from here, so ask again
  // a bounded number of times.
  let answer: unknown;
  for (let i = 0; i < 40 && answer === undefined; i++) {
    const res = await post(gateway.url, { query: 'mutation { echo(aString: "up") { aString } }' });
    if (res.json.data?.echo) answer = res.json.data.echo;
    else await new Promise((r) => setTimeout(r, 250));
  }
  assert.deepEqual(answer, { aString: 'up' });
});
