import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { stringify } from 'yaml';
import { MAPPING_PROTOS, startMappingServer } from '../fixtures/protos/mapping-server.ts';
import { post, startTestGateway, writeProject } from '../helpers/env.ts';
import { makeCertificates } from '../helpers/tls.ts';

test('a gRPC backend behind TLS is reached with the configured CA, and refused without it', async (t) => {
  const certs = await makeCertificates();
  const service = await startMappingServer(
    0,
    grpc.ServerCredentials.createSsl(null, [{ cert_chain: certs.cert, private_key: certs.key }]),
  );
  t.after(() => service.close());
  const project = await writeProject([]);
  t.after(() => project.remove());
  const source = {
    kind: 'grpc',
    // By name, as TLS backends are addressed: grpc-js sends the address's host as the TLS server
    // name, and Node 26 refuses an IP there (RFC 6066; DEP0123 is an error from 26 on).
    address: service.address.replace('127.0.0.1', 'localhost'),
    protos: ['mapping/v1/mapping.proto'],
    include_dirs: [MAPPING_PROTOS],
    timeout: '2s',
  };
  const configs = {
    'trusted.yaml': {
      subgraphs: { mapping: { source: { ...source, tls: { ca: certs.caFile } } } },
    },
    'system-roots.yaml': { subgraphs: { mapping: { source: { ...source, tls: true } } } },
    'plaintext.yaml': { subgraphs: { mapping: { source } } },
  };
  const answers: Record<string, string> = {};
  for (const [file, config] of Object.entries(configs)) {
    await project.write(file, stringify(config));
    const gateway = await startTestGateway({ configFile: `${project.dir}/${file}` });
    try {
      const res = await post(gateway.url, {
        query: 'mutation { echo(aString: "over tls") { aString } }',
      });
      answers[file] = res.json.data?.echo?.aString ?? res.json.errors[0].extensions.code;
    } finally {
      await gateway.close();
    }
  }
  assert.deepEqual(answers, {
    'trusted.yaml': 'over tls',
    'system-roots.yaml': 'UPSTREAM_UNAVAILABLE',
    'plaintext.yaml': 'UPSTREAM_UNAVAILABLE',
  });
});
