import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ApiKeys, hashApiKey } from '../../src/policies/auth/api-keys.ts';
import { SHOP } from '../fixtures/graphs/shop.ts';
import { get, post, startSubgraphs, writeProject } from '../helpers/env.ts';

/** The installed command itself, as `npx gateway` runs it. */
const BIN = join(import.meta.dirname, '../../bin/gateway.js');

/** Runs the gateway command to completion, with `input` as its stdin (else none). */
async function run(args: string[], cwd: string, input = '') {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, PORT: '' } });
  child.stdin.end(input);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const [code] = await once(child, 'exit');
  return { code: code as number, stdout, stderr };
}

/**
 * Starts `gateway start` and resolves with its URL, and its admin listener's origin when it has
 * one, once it logs that it listens.
 */
async function startProcess(
  args: string[],
  cwd: string,
): Promise<{ child: ChildProcess; url: string; admin?: string }> {
  const child = spawn(
    process.execPath,
    [BIN, 'start', '--port', '0', '--admin-port', '0', ...args],
    {
      cwd,
      env: { ...process.env, PORT: '' },
    },
  );
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`gateway exited with ${code}: ${stderr}`);
  });
  const listening = (async () => {
    for await (const line of lines) {
      const entry = JSON.parse(line) as { msg?: string; url?: string; admin?: string };
      if (entry.msg === 'gateway listening') return entry;
    }
    throw new Error('no listening line');
  })();
  const { url, admin } = await Promise.race([listening, exited]);
  lines.on('line', () => {}); // keep draining stdout so the child never blocks on a full pipe
  return { child, url: url as string, ...(admin ? { admin } : {}) };
}

describe('the gateway command', () => {
  let subgraphs: Awaited<ReturnType<typeof startSubgraphs>>;
  let project: Awaited<ReturnType<typeof writeProject>>;

  before(async () => {
    subgraphs = await startSubgraphs(SHOP, 300);
    project = await writeProject(subgraphs.servers);
  });

  after(async () => {
    await subgraphs.close();
    await project.remove();
  });

  test('start exits 1 with file, line and key path on stderr for an invalid config', async () => {
    await project.write(
      'bad.yaml',
      'subgraphs:\n  users:\n    routing_url: not a url\n    schema:\n      file: ./accounts.graphql\n',
    );
    const { code, stderr } = await run(['start', '--config', 'bad.yaml'], project.dir);
    assert.equal(code, 1);
    assert.match(stderr, /bad\.yaml:3:18: subgraphs\.users\.routing_url: /);
  });

  test('start exits 1 naming the subgraph and location when composition fails', async () => {
    await project.write(
      'conflict.graphql',
      subgraphs.byName('products').sdl.replace('price: Int!', 'price: String!'),
    );
    const config = (await readFile(project.configFile, 'utf8')).replace(
      './products.graphql',
      './conflict.graphql',
    );
    await project.write('conflict.yaml', config);
    const { code, stderr } = await run(['start', '--config', 'conflict.yaml'], project.dir);
    assert.equal(code, 1);
    assert.match(stderr, /composition failed with \d+ errors?:/);
    assert.match(stderr, /conflict\.graphql:\d+:\d+ \(subgraph products\)/);
  });

  test('an unknown command or flag exits 2 with the usage', async () => {
    const { code, stderr } = await run(['start', '--nope'], project.dir);
    assert.equal(code, 2);
    assert.match(stderr, /Usage: gateway/);
  });

  test('compose writes a supergraph that start --supergraph serves', async () => {
    const composed = await run(
      ['compose', '--config', 'supergraph.yaml', '--output', 'out.graphql'],
      project.dir,
    );
    assert.equal(composed.code, 0, composed.stderr);
    const sdl = await readFile(join(project.dir, 'out.graphql'), 'utf8');
    assert.match(sdl, /enum join__Graph/);

    const { child, url } = await startProcess(['--supergraph', 'out.graphql'], project.dir);
    try {
      const res = await post(url, { query: '{ me { name reviews { body } } }' });
      assert.equal(res.status, 200);
      assert.equal(res.json.data.me.name, 'Ada Lovelace');
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  test('start in production opens the admin listener at --admin-port and logs it beside the URL', async () => {
    const { child, url, admin } = await startProcess(['--config', 'supergraph.yaml'], project.dir);
    try {
      assert.match(String(admin), /^http:\/\/127\.0\.0\.1:\d+$/);
      const origin = new URL(url).origin;
      assert.deepEqual((await get(`${origin}/readyz`)).json, { status: 'ready' });
      assert.equal((await get(`${origin}/metrics`)).status, 404);
      assert.equal((await get(`${admin}/readyz`)).json.supergraph.subgraphs.length, 4);
      assert.equal((await get(`${admin}/metrics`)).status, 200);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  test('SIGTERM drains a request in flight and exits 0', async () => {
    const { child, url } = await startProcess(['--config', 'supergraph.yaml'], project.dir);
    const inFlight = post(url, { query: '{ me { name } }' });
    await once(subgraphs.byName('accounts').events, 'request');
    child.kill('SIGTERM');
    const [res, [code]] = await Promise.all([inFlight, once(child, 'exit')]);
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { data: { me: { name: 'Ada Lovelace' } } });
    assert.equal(code, 0);
  });

  test('compose exits 1 and writes nothing when a schema file is missing', async () => {
    const config = (await readFile(project.configFile, 'utf8')).replace(
      './products.graphql',
      './missing.graphql',
    );
    await writeFile(join(project.dir, 'missing.yaml'), config);
    const { code, stderr } = await run(
      ['compose', '--config', 'missing.yaml', '--output', 'none.graphql'],
      project.dir,
    );
    assert.equal(code, 1);
    assert.match(
      stderr,
      /missing\.yaml:\d+:\d+: subgraphs\.products\.schema\.file: cannot read schema file/,
    );
    await assert.rejects(readFile(join(project.dir, 'none.graphql')));
  });
});

describe('the key command', () => {
  const cwd = import.meta.dirname;

  test('key hash prints the SHA-256 of the key on stdin, as API key entries hold it', async () => {
    for (const input of ['gw_secret\n', 'gw_secret', 'gw_secret\r\n']) {
      const { code, stdout, stderr } = await run(['key', 'hash'], cwd, input);
      assert.equal(code, 0, stderr);
      // The CLI hashes on its own (cli/ may not import policies/): it must agree with them.
      assert.equal(stdout, `${hashApiKey('gw_secret')}\n`, JSON.stringify(input));
    }
    const accented = await run(['key', 'hash'], cwd, 'clé-ü\n');
    assert.equal(accented.stdout, `${hashApiKey('clé-ü')}\n`);
  });

  test('key hash keeps everything but the one trailing newline', async () => {
    const { stdout } = await run(['key', 'hash'], cwd, ' gw_secret \n');
    assert.equal(stdout, `${hashApiKey(' gw_secret ')}\n`);
  });

  test('key hash with empty input, or several lines, exits 2 with the usage', async () => {
    for (const input of ['', '\n', 'one\ntwo\n']) {
      const { code, stdout, stderr } = await run(['key', 'hash'], cwd, input);
      assert.equal(code, 2, JSON.stringify(input));
      assert.equal(stdout, '');
      assert.match(stderr, /gateway: key hash reads one key from stdin/);
      assert.match(stderr, /Usage: gateway/);
    }
  });

  test('key new prints a new key and its hash, which an API key entry then matches', async () => {
    const { code, stdout, stderr } = await run(['key', 'new'], cwd);
    assert.equal(code, 0, stderr);
    const printed = /^key: {4}(gw_[A-Za-z0-9_-]{43})\nsha256: ([0-9a-f]{64})\n$/.exec(stdout);
    assert.ok(printed, stdout);
    const [, key, sha256] = printed as unknown as [string, string, string];
    const keys = new ApiKeys([{ name: 'ops', sha256, clientId: 'ops', scopes: [] }]);
    assert.equal(keys.match(key)?.subject, 'ops');
    const again = await run(['key', 'new'], cwd);
    assert.notEqual(again.stdout, stdout, 'a new key each time');
  });

  test('an unknown key subcommand or an extra argument exits 2 with the usage', async () => {
    for (const args of [['key'], ['key', 'rotate'], ['key', 'new', 'extra']]) {
      const { code, stderr } = await run(args, cwd);
      assert.equal(code, 2, args.join(' '));
      assert.match(stderr, /key hash +Print the SHA-256/);
    }
  });
});

describe('gateway manifest build', () => {
  let project: Awaited<ReturnType<typeof writeProject>>;

  // Only the schema files are read: no subgraph needs to run.
  before(async () => {
    project = await writeProject(
      SHOP.map((s) => ({ name: s.name, url: 'http://127.0.0.1:1/graphql', sdl: s.sdl })),
    );
  });

  after(() => project.remove());

  test('manifest build writes one Apollo manifest entry per operation, with fragments from other files', async () => {
    await mkdir(join(project.dir, 'ops/nested'), { recursive: true });
    await project.write('ops/me.graphql', 'query Me {\n  me { ...UserName }\n}\n');
    await project.write('ops/nested/fragments.graphql', 'fragment UserName on User { name }\n');
    await project.write('ops/top.graphql', 'query Top { topProducts(first: 2) { upc } }\n');
    const { code, stderr } = await run(
      ['manifest', 'build', 'ops', '--config', 'supergraph.yaml', '--out', 'manifest.json'],
      project.dir,
    );
    assert.equal(code, 0, stderr);
    const manifest = JSON.parse(await readFile(join(project.dir, 'manifest.json'), 'utf8'));
    assert.equal(manifest.format, 'apollo-persisted-query-manifest');
    assert.deepEqual(
      manifest.operations.map((o: { name: string; type: string }) => [o.name, o.type]),
      [
        ['Me', 'query'],
        ['Top', 'query'],
      ],
    );
    const me = manifest.operations[0];
    assert.match(me.body, /^query Me \{[\s\S]*fragment UserName on User/);
    assert.equal(me.id, createHash('sha256').update(me.body).digest('hex'));
  });

  test('manifest build exits 1 naming the file and line of an operation that no longer validates', async () => {
    await project.write(
      'ops/stale.graphql',
      '# renamed on the server\nquery Stale {\n  me { fullName }\n}\n',
    );
    const { code, stdout, stderr } = await run(['manifest', 'build', 'ops'], project.dir);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(
      stderr,
      /ops\/stale\.graphql:3:8 operation Stale: Cannot query field "fullName" on type "User"/,
    );
    await rm(join(project.dir, 'ops/stale.graphql'));
  });

  test('manifest build --client takes a configured client only, and exits 1 naming the others', async () => {
    const unknown = await run(['manifest', 'build', 'ops', '--client', 'tv'], project.dir);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stdout, '');
    assert.match(unknown.stderr, /no client tv in the config \(clients: none\)/);
    const withClients = await writeProject(
      SHOP.map((s) => ({ name: s.name, url: 'http://127.0.0.1:1/graphql', sdl: s.sdl })),
      { clients: { mobile: {}, web: {} } },
    );
    try {
      await mkdir(join(withClients.dir, 'ops'));
      await withClients.write('ops/me.graphql', 'query Me { me { name } }\n');
      const known = await run(['manifest', 'build', 'ops', '--client', 'mobile'], withClients.dir);
      assert.equal(known.code, 0, known.stderr);
      assert.deepEqual(
        JSON.parse(known.stdout).operations.map((o: { name: string }) => o.name),
        ['Me'],
      );
      const typo = await run(['manifest', 'build', 'ops', '--client', 'mobil'], withClients.dir);
      assert.equal(typo.code, 1);
      assert.match(typo.stderr, /no client mobil in the config \(clients: mobile, web\)/);
    } finally {
      await withClients.remove();
    }
  });

  test("manifest build --client validates against the client's contract", async () => {
    const tagged = await writeProject(
      [
        {
          name: 'catalog',
          url: 'http://127.0.0.1:1/graphql',
          sdl: `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@tag"])
type Item { name: String! @tag(name: "mobile") cost: Int! }
type Query { items: [Item!]! @tag(name: "mobile") }`,
        },
      ],
      { clients: { mobile: { contract: { include: ['mobile'] } }, web: {} } },
    );
    try {
      await mkdir(join(tagged.dir, 'ops'));
      await tagged.write('ops/items.graphql', 'query Items {\n  items { name cost }\n}\n');
      const web = await run(['manifest', 'build', 'ops', '--client', 'web'], tagged.dir);
      assert.equal(web.code, 0, web.stderr);
      const mobile = await run(['manifest', 'build', 'ops', '--client', 'mobile'], tagged.dir);
      assert.equal(mobile.code, 1);
      assert.equal(mobile.stdout, '');
      assert.match(
        mobile.stderr,
        /ops\/items\.graphql:2:16 operation Items: Cannot query field "cost" on type "Item"\./,
      );
    } finally {
      await tagged.remove();
    }
  });
});
