import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { stringify } from 'yaml';
import { loadConfig } from '../../../src/config/load.ts';
import { configSource, createLoadDeps } from '../../../src/runtime/sources.ts';
import { writeProject } from '../../helpers/env.ts';

test('a start reads the config once: the loaded config serves the first snapshot, reloads read the file', async () => {
  const project = await writeProject([]);
  const deps = createLoadDeps();
  try {
    await project.write(
      'supergraph.yaml',
      stringify({
        subgraphs: {
          hello: {
            routing_url: 'http://127.0.0.1:9/graphql',
            schema: { sdl: 'type Query { hello: String }' },
          },
        },
      }),
    );
    const loaded = await loadConfig(project.configFile, {});
    const source = configSource(project.configFile, {}, loaded);
    // The file is gone: the first load can only have used the config it was given.
    await rm(project.configFile);
    const first = await source.load(deps);
    assert.deepEqual(
      first.supergraph.subgraphs.map((s) => s.name),
      ['hello'],
    );
    assert.equal(first.costModel.defaultListSize, loaded.config.limits.cost.list_size);
    await assert.rejects(source.load(deps), /supergraph\.yaml/);
  } finally {
    await deps.close();
    await project.remove();
  }
});
