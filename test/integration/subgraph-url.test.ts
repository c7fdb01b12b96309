// Subgraphs read from a running service (`schema.subgraph_url`, docs/configuration.md): the SDL
// each answered is kept on disk, so a start while one is down serves its last known schema; the
// SDL is polled while the gateway runs, and a change reloads the graph (a change that does not
// compose keeps the last good one). A real subgraph on 127.0.0.1, stopped and started again on
// its port.
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { post, startTestGateway, writeProject, type TestGateway } from '../helpers/env.ts';
import { startSubgraphServer, type SubgraphServer } from '../helpers/subgraph-server.ts';

const SDL = (extra = '') => `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
  type Query { greeting: String ${extra} }
`;

const OTHERS_SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
  type Query { other: String }
`;

const resolvers = { Query: { greeting: () => 'hello', farewell: () => 'goodbye' } };

describe('subgraphs read from a running service', () => {
  let project: Awaited<ReturnType<typeof writeProject>>;
  let subgraph: SubgraphServer | undefined;
  let gateway: TestGateway | undefined;
  let port = 0;

  async function startSubgraph(sdl: string) {
    subgraph = await startSubgraphServer({ name: 'greetings', sdl, resolvers, port });
    port = Number(new URL(subgraph.url).port);
    return subgraph;
  }

  async function writeConfig() {
    await project.write(
      'supergraph.yaml',
      stringify({
        federation_version: '=2.3.0',
        subgraphs: {
          greetings: {
            schema: { subgraph_url: `http://127.0.0.1:${port}/graphql`, poll_interval: '100ms' },
          },
          // Never called: there to compose with, so that a polled SDL can fail to.
          others: {
            routing_url: 'http://127.0.0.1:9/graphql',
            schema: { sdl: OTHERS_SDL },
          },
        },
      }),
    );
  }

  const kept = () => join(project.dir, '.gateway', 'subgraphs', 'greetings.graphql');

  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
  });
  after(async () => {
    await subgraph?.close();
    await project?.remove();
  });

  test('the SDL a subgraph answered is kept on disk', async () => {
    project = await writeProject([]);
    await startSubgraph(SDL());
    await writeConfig();
    gateway = await startTestGateway({ configFile: project.configFile });
    assert.deepEqual((await post(gateway.url, { query: '{ greeting }' })).json, {
      data: { greeting: 'hello' },
    });
    assert.ok(existsSync(kept()));
    assert.match(readFileSync(kept(), 'utf8'), /greeting: String/);
  });

  test('a start while the subgraph is down serves its kept SDL, and its fields answer once it is back', async () => {
    await subgraph?.close();
    gateway = await startTestGateway({ configFile: project.configFile });
    await gateway.logs.find((line) => line.code === 'SUBGRAPH_SDL_FROM_CACHE');
    const down = await post(gateway.url, { query: '{ greeting }' });
    assert.equal(down.json.errors[0].extensions.code, 'UPSTREAM_UNAVAILABLE');
    await startSubgraph(SDL());
    assert.deepEqual((await post(gateway.url, { query: '{ greeting }' })).json, {
      data: { greeting: 'hello' },
    });
  });

  test('a changed SDL is picked up by the poll and reloads the graph', async () => {
    gateway = await startTestGateway({ configFile: project.configFile });
    await subgraph?.close();
    await startSubgraph(SDL('farewell: String'));
    await gateway.logs.find((line) => line.msg === 'supergraph reloaded', 5_000);
    assert.deepEqual((await post(gateway.url, { query: '{ farewell }' })).json, {
      data: { farewell: 'goodbye' },
    });
  });

  test('a polled SDL that does not compose keeps the last good graph, and is tried once', async () => {
    gateway = await startTestGateway({ configFile: project.configFile });
    await subgraph?.close();
    // A field the other subgraph defines too, not @shareable: served by the subgraph, refused
    // by composition (INVALID_FIELD_SHARING).
    await startSubgraph(SDL('farewell: String other: String'));
    await gateway.logs.find((line) => String(line.msg).startsWith('reload failed'), 5_000);
    assert.deepEqual((await post(gateway.url, { query: '{ farewell }' })).json, {
      data: { farewell: 'goodbye' },
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const failures = gateway.logs.lines.filter((line) =>
      String(line.msg).startsWith('reload failed'),
    );
    assert.equal(failures.length, 1);
  });

  test('without a kept SDL, a subgraph down at start is an error naming it', async () => {
    await subgraph?.close();
    const fresh = await writeProject([]);
    const config = {
      federation_version: '=2.3.0',
      subgraphs: {
        greetings: {
          schema: { subgraph_url: `http://127.0.0.1:${port}/graphql`, sdl_cache: false },
        },
      },
    };
    await fresh.write('supergraph.yaml', stringify(config));
    await assert.rejects(
      startTestGateway({ configFile: fresh.configFile }),
      /subgraph "greetings": cannot read its SDL from schema.subgraph_url/,
    );
    await fresh.remove();
  });
});
