import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startUsersRest, type RunningBackend } from '../../demo/backends/users-rest.ts';
import { post, startTestGateway, writeProject, type TestGateway } from '../helpers/env.ts';

const OPENAPI = join(import.meta.dirname, '../../schemas/users.openapi.yaml');
const BIN = join(import.meta.dirname, '../../bin/gateway.js');

/** The demo users service joins the graph from its OpenAPI document alone. */
describe('a REST subgraph generated from OpenAPI', () => {
  let users: RunningBackend;
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateway: TestGateway;

  before(async () => {
    users = await startUsersRest();
    project = await writeProject([]);
    await copyFile(OPENAPI, join(project.dir, 'users.openapi.yaml'));
    await project.write(
      'supergraph.yaml',
      stringify({
        subgraphs: {
          users: { source: { kind: 'rest', base_url: users.url, openapi: './users.openapi.yaml' } },
        },
      }),
    );
    gateway = await startTestGateway({ configFile: project.configFile });
  });

  after(async () => {
    await gateway.close();
    await users.close();
    await project.remove();
  });

  test('serves GET operations as queries, with path and query parameters', async () => {
    const res = await post(gateway.url, {
      query: '{ getUser(id: "2") { id name email } listUsers(ids: ["3", "9", "1"]) { name } }',
    });
    assert.deepEqual(res.json, {
      data: {
        getUser: { id: '2', name: 'Alan Turing', email: 'alan@example.com' },
        listUsers: [{ name: 'Grace Hopper' }, { name: 'Ada Lovelace' }],
      },
    });
  });

  test('serves POST operations as mutations with the request body as input', async () => {
    const res = await post(gateway.url, {
      query:
        'mutation { createUser(input: { name: "Frances Allen", email: "fran@example.com" }) { id name } }',
    });
    assert.deepEqual(res.json, { data: { createUser: { id: '6', name: 'Frances Allen' } } });
  });

  test('a 404 from the service is NOT_FOUND on the field', async () => {
    const res = await post(gateway.url, { query: '{ getUser(id: "404") { id } }' });
    assert.deepEqual(res.json.data, { getUser: null });
    assert.equal(res.json.errors[0].extensions.code, 'NOT_FOUND');
  });

  test('gateway rest print shows the generated SDL', async () => {
    const child = spawn(process.execPath, [BIN, 'rest', 'print', 'users'], { cwd: project.dir });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    assert.match(stdout, /getUser\(id: String!\): User @rest\(get: "\/users\/\{args\.id\}"\)/);
    assert.match(
      stdout,
      /createUser\(input: NewUserInput!\): User @rest\(post: "\/users", body: "\{args\.input\}"\)/,
    );
  });
});
