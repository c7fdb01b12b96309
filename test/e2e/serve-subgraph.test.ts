import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { LIBRARY_SDL, startLibrary } from '../fixtures/rest/library.ts';
import { post, writeProject } from '../helpers/env.ts';

const BIN = join(import.meta.dirname, '../../bin/gateway.js');

test('serve-subgraph serves a REST adapter standalone as a federation subgraph', async (t) => {
  const library = await startLibrary();
  t.after(() => library.close());
  const project = await writeProject([
    { name: 'library', url: 'http://unused.invalid', sdl: LIBRARY_SDL },
  ]);
  t.after(() => project.remove());
  await project.write(
    'supergraph.yaml',
    stringify({
      subgraphs: {
        library: {
          schema: { file: './library.graphql' },
          source: { kind: 'rest', base_url: library.url },
        },
      },
    }),
  );
  const child = spawn(process.execPath, [BIN, 'serve-subgraph', 'library', '--port', '0'], {
    cwd: project.dir,
  });
  const exited = once(child, 'exit');
  let url = '';
  for await (const line of createInterface({ input: child.stdout })) {
    if (line.includes('"msg":"subgraph listening"')) {
      url = (JSON.parse(line) as { url: string }).url;
      break;
    }
  }
  child.stdout.resume();

  const res = await post(
    url,
    { query: '{ author(id: "4") { name } _service { sdl } }' },
    { 'x-correlation-id': 'standalone-1' },
  );
  assert.equal(res.json.data.author.name, 'Author 4');
  assert.doesNotMatch(
    res.json.data._service.sdl,
    /@rest/,
    'other routers see the SDL without adapter directives',
  );
  assert.equal(library.calls.at(-1)?.headers['x-correlation-id'], 'standalone-1');
  const entities = await post(url, {
    query: 'query ($r: [_Any!]!) { _entities(representations: $r) { ... on Author { name } } }',
    variables: {
      r: [
        { __typename: 'Author', id: '2' },
        { __typename: 'Author', id: '3' },
      ],
    },
  });
  assert.deepEqual(entities.json.data._entities, [{ name: 'Author 2' }, { name: 'Author 3' }]);

  child.kill('SIGTERM');
  assert.equal((await exited)[0], 0);
});

test('compose includes a REST adapter subgraph, without its directives, at its placeholder URL', async (t) => {
  const project = await writeProject([
    { name: 'library', url: 'http://unused.invalid', sdl: LIBRARY_SDL },
  ]);
  t.after(() => project.remove());
  await project.write(
    'supergraph.yaml',
    stringify({
      subgraphs: {
        library: {
          schema: { file: './library.graphql' },
          source: { kind: 'rest', base_url: 'http://127.0.0.1:9' },
        },
      },
    }),
  );
  const child = spawn(process.execPath, [BIN, 'compose', '--output', '-'], { cwd: project.dir });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  assert.equal((await once(child, 'exit'))[0], 0);
  assert.match(
    stdout,
    /LIBRARY @join__graph\(name: "library", url: "http:\/\/library\.adapter\.invalid\/graphql"\)/,
  );
  assert.doesNotMatch(stdout, /@rest/);
});
