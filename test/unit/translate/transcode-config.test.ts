import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { configSource, createLoadDeps } from '../../../src/runtime/sources.ts';
import { ConfigError } from '../../../src/config/errors.ts';
import { MAPPING_PROTOS } from '../../fixtures/protos/mapping-server.ts';
import { writeProject } from '../../helpers/env.ts';

const STUB = {
  stub: {
    routing_url: 'http://127.0.0.1:9/graphql',
    schema: { sdl: 'type Query { hello: String }' },
  },
};

/** Loads a config the way the gateway does and returns the ConfigError's text. */
async function loadError(config: object, files: Record<string, string> = {}): Promise<string> {
  const project = await writeProject([]);
  const deps = createLoadDeps();
  try {
    for (const [name, text] of Object.entries(files)) await project.write(name, text);
    await project.write('supergraph.yaml', stringify(config));
    await configSource(project.configFile, {}).load(deps);
    return 'loaded';
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  } finally {
    await deps.close();
    await project.remove();
  }
}

test('a transcode entry needs a backend: its own address and protos, or a subgraph', async () => {
  const text = await loadError({ subgraphs: STUB, transcode: { orders: {} } });
  assert.match(
    text,
    /supergraph\.yaml:\d+:\d+: transcode\.orders\.address: required \(or give subgraph\)/,
  );
  assert.match(text, /transcode\.orders\.protos: required/);
});

test('transcode.subgraph must name a subgraph with a gRPC source', async () => {
  const text = await loadError({ subgraphs: STUB, transcode: { orders: { subgraph: 'stub' } } });
  assert.match(text, /transcode\.orders\.subgraph: subgraph stub has no gRPC source/);
  const missing = await loadError({ subgraphs: STUB, transcode: { orders: { subgraph: 'nope' } } });
  assert.match(missing, /no subgraph nope \(subgraphs: stub\)/);
});

test('a service the protos do not have is named with the ones they do', async () => {
  const text = await loadError({
    subgraphs: STUB,
    transcode: {
      lib: {
        address: '127.0.0.1:1',
        protos: ['transcode/v1/library.proto'],
        include_dirs: [MAPPING_PROTOS],
        services: ['transcode.v1.Nope'],
      },
    },
  });
  assert.match(
    text,
    /transcode\.lib\.services\[0\]: no service transcode\.v1\.Nope in the protos \(services: transcode\.v1\.Library\)/,
  );
});

test('a route whose weights are all 0 is refused at its key', async () => {
  const text = await loadError({
    subgraphs: STUB,
    routes: [{ path_prefix: '/x', backends: [{ url: 'http://a.test', weight: 0 }] }],
  });
  assert.match(text, /routes\[0\]\.backends: every weight is 0/);
});

test('a binding whose path variable names no field is refused, naming the method and template', async () => {
  const proto = `syntax = "proto3"; package bad.v1; import "google/api/annotations.proto";
    service Things { rpc GetThing(GetThingRequest) returns (GetThingRequest) {
      option (google.api.http) = { get: "/v1/things/{thing_id}" }; } }
    message GetThingRequest { string id = 1; }`;
  const text = await loadError(
    {
      subgraphs: STUB,
      transcode: { things: { address: '127.0.0.1:1', protos: ['bad.proto'], include_dirs: ['.'] } },
    },
    { 'bad.proto': proto },
  );
  assert.match(
    text,
    /transcode\.things: bad\.v1\.Things\/GetThing: GET \/v1\/things\/\{thing_id\}: no field thing_id in GetThingRequest/,
  );
});
