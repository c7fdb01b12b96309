// A supergraph composed by `gateway compose` that holds REST and gRPC adapter subgraphs
// (docs/adapters.md, "Composed supergraphs"): served alone it is refused at start, naming the
// adapters and the way out; served with the config that composed it, a query reaches each
// adapter's backend. The real command, real REST and gRPC backends on 127.0.0.1:0.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ORDERS_PROTO, PROTOS_DIR, startOrdersGrpc } from '../../demo/backends/orders-grpc.ts';
import { post, startHttpBackend, writeProject } from '../helpers/env.ts';
import { BIN, startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process.ts';

const ACCOUNTS_SDL = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Account { id: ID! name: String }
type Query { account(id: ID!): Account @rest(get: "/accounts/{args.id}") }
`;

/** Runs the command to its end: exit code and what it wrote. */
async function run(args: string[], cwd: string) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, PORT: '', ADMIN_PORT: '0' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

describe('a composed supergraph with adapter subgraphs', () => {
  let rest: Awaited<ReturnType<typeof startHttpBackend>>;
  let orders: Awaited<ReturnType<typeof startOrdersGrpc>>;
  let project: Awaited<ReturnType<typeof writeProject>>;
  const running: GatewayProcess[] = [];

  before(async () => {
    rest = await startHttpBackend((_req, res) => {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ id: '7', name: 'Ada' }));
    });
    orders = await startOrdersGrpc();
    project = await writeProject([]);
    await project.write('accounts.graphql', ACCOUNTS_SDL);
    await project.write(
      'supergraph.yaml',
      stringify({
        federation_version: '=2.3.0',
        subgraphs: {
          accounts: {
            schema: { file: './accounts.graphql' },
            source: { kind: 'rest', base_url: rest.url },
          },
          orders: {
            source: {
              kind: 'grpc',
              address: orders.url,
              protos: [ORDERS_PROTO],
              include_dirs: [PROTOS_DIR],
            },
          },
        },
      }),
    );
    const composed = await run(['compose', '--output', 'composed.graphql'], project.dir);
    assert.equal(composed.code, 0, composed.stderr);
  });
  after(async () => {
    for (const gateway of running) {
      gateway.child.kill('SIGTERM');
      await gateway.exited;
    }
    await orders?.close();
    await rest?.close();
    await project?.remove();
  });

  test('served alone, it is refused at start, naming the adapters and the way out', async () => {
    const alone = await run(
      ['start', '--supergraph', 'composed.graphql', '--port', '0'],
      project.dir,
    );
    assert.notEqual(alone.code, 0);
    const said = alone.stdout + alone.stderr;
    assert.match(said, /subgraphs accounts, orders are REST or gRPC adapters/);
    assert.match(
      said,
      /start with --config <the supergraph\.yaml that composed it> beside --supergraph/,
    );
    assert.match(said, /gateway serve-subgraph <name>/);
  });

  test('served with the config that composed it, a query reaches each adapter', async () => {
    const gateway = await startGatewayProcess({
      command: process.execPath,
      args: [
        BIN,
        'start',
        '--supergraph',
        join(project.dir, 'composed.graphql'),
        '--config',
        'supergraph.yaml',
        '--port',
        '0',
      ],
      cwd: project.dir,
    });
    running.push(gateway);
    const answer = await post(gateway.url, {
      query: '{ account(id: "7") { name } getOrder(id: "1") { id } }',
    });
    assert.deepEqual(answer.json, { data: { account: { name: 'Ada' }, getOrder: { id: '1' } } });
  });
});
