import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BackendDispatcher } from '../../../src/runtime/backend-dispatcher.ts';
import { makeCertificates } from '../../helpers/tls.ts';

test('an origin with TLS settings keeps its pool across a reload with the same files, and gets a new one when they change', async (t) => {
  const certs = await makeCertificates();
  const server = createServer({ cert: certs.cert, key: certs.key }, (_req, res) => res.end('ok'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const origin = `https://localhost:${(server.address() as AddressInfo).port}`;
  const dispatcher = new BackendDispatcher();
  t.after(() => dispatcher.destroyAll());
  const get = async () =>
    (await dispatcher.request({ origin, path: '/', method: 'GET' })).body.text();

  // Without settings the private CA is unknown: the system's roots refuse the certificate.
  await assert.rejects(get());
  dispatcher.configure(new Map([[origin, { ca: certs.caFile }]]));
  assert.equal(await get(), 'ok');
  const pool = dispatcher.poolOf(origin);
  assert.ok(pool);
  // A reload naming the same contents (here from another file) keeps the pool and its sockets.
  const copy = join(certs.dir, 'ca-copy.pem');
  await writeFile(copy, certs.ca);
  dispatcher.configure(new Map([[origin, { ca: copy }]]));
  assert.equal(dispatcher.poolOf(origin), pool);
  assert.equal(await get(), 'ok');
  // Changed contents (a renewed file) are a new pool, connecting with them.
  await writeFile(copy, `${certs.ca.toString()}\n`);
  dispatcher.configure(new Map([[origin, { ca: copy }]]));
  assert.notEqual(dispatcher.poolOf(origin), pool);
  assert.equal(await get(), 'ok');
  // An origin the config no longer names is sent as any other.
  dispatcher.configure(new Map());
  assert.equal(dispatcher.poolOf(origin), undefined);
  await assert.rejects(get());
});
