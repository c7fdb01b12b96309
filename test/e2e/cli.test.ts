import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ApiKeys, hashApiKey } from '../../src/policies/auth/api-keys.ts';
import { SHOP } from '../fixtures/graphs/shop.ts';
import { LIBRARY_SDL } from '../fixtures/rest/library.ts';
import { get, post, startSubgraphs, writeProject } from '../helpers/env.ts';

/** The installed command itself, as `npx gateway` runs it. */
const BIN = join(import.meta.dirname, '../../bin/gateway.js');

/**
 * Runs the gateway command to completion, with `input` as its stdin (else none) and `env` over
 * the test's environment (PORT and ADMIN_PORT cleared, so the caller's never leak in).
 */
async function run(args: string[], cwd: string, input = '', env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, PORT: '', ADMIN_PORT: '', ...env },
  });
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

  test('an unknown command exits 2 with the usage', async () => {
    const { code, stderr } = await run(['deploy'], project.dir);
    assert.equal(code, 2);
    assert.match(stderr, /gateway: unknown command "deploy"/);
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

describe('the gateway command about itself', () => {
  let dir: string;

  // An empty folder but for a package.json of another project: no config to load, and a version
  // that is not the gateway's.
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gateway-cli-'));
    await writeFile(join(dir, 'package.json'), '{ "name": "their-app", "version": "9.9.9" }\n');
  });

  after(() => rm(dir, { recursive: true, force: true }));

  /** Each command's --help (or -h): a line only its usage has. */
  const HELP: [string[], RegExp][] = [
    [['start', '--help'], /--admin-port <n> +the admin listener's port/],
    [
      ['start', '--config', 'missing.yaml', '-h'],
      /^ {2}PORT +listen port when --port is not given/m,
    ],
    [
      ['compose', '--help'],
      /--output <file> +\(default: \.\/supergraph\.graphql; "-" for stdout\)/,
    ],
    [['serve-subgraph', 'users', '--help'], /--port <n> +0-65535 \(default: PORT, else 4100\)/],
    [['rest', 'print', '--help'], /gateway rest print users --output schemas\/users\.graphql/],
    [
      ['grpc', 'print', 'orders', '-h'],
      /gateway grpc print orders --output schemas\/orders\.graphql/,
    ],
    [['manifest', 'build', '--help'], /--client <id> +a configured client's manifest/],
    [['key', 'hash', '--help'], /echo -n "\$KEY" \| gateway key hash/],
    [['key', 'new', '-h'], /Generate an API key; print it and its SHA-256/],
    [['key', '--help'], /Usage: gateway key hash[\s\S]*Usage: gateway key new/],
    [['version', '--help'], /Usage: gateway version \(or gateway --version, gateway -v\)/],
    [['help', '--help'], /Usage: gateway help \[<command>\]/],
    [['help', 'serve-subgraph'], /Usage: gateway serve-subgraph <name>/],
  ];

  for (const [args, line] of HELP) {
    test(`gateway ${args.join(' ')} prints that usage and exits 0, doing nothing else`, async () => {
      // A bad PORT and no config in the folder: reading either would fail the command.
      const { code, stdout, stderr } = await run(args, dir, '', { PORT: 'abc' });
      assert.equal(code, 0, stderr);
      assert.equal(stderr, '');
      assert.match(stdout, /^Usage: gateway /);
      assert.match(stdout, line);
    });
  }

  test('--version, -v and version print the version in the gateway package.json', async () => {
    const pkg = JSON.parse(
      await readFile(join(import.meta.dirname, '../../package.json'), 'utf8'),
    ) as { version: string };
    for (const args of [['--version'], ['-v'], ['version']]) {
      const { code, stdout } = await run(args, dir);
      assert.equal(code, 0, args[0]);
      assert.equal(stdout, `${pkg.version}\n`, args[0]);
    }
  });

  /** An unknown flag on each kind of command: the flag named, and that command's --help. */
  const UNKNOWN_FLAGS: [string[], string, string][] = [
    [['start', '--nope'], '--nope', 'start'],
    [['compose', '-x'], '-x', 'compose'],
    [['serve-subgraph', 'users', '--hots', 'a'], '--hots', 'serve-subgraph'],
    [['rest', 'print', 'users', '--out', 'x'], '--out', 'rest print'],
    [['manifest', 'build', 'ops', '--output', 'x'], '--output', 'manifest build'],
    [['key', 'new', '--force'], '--force', 'key new'],
  ];

  for (const [args, flag, command] of UNKNOWN_FLAGS) {
    test(`gateway ${args.join(' ')} exits 2 naming ${flag} and pointing to --help`, async () => {
      const { code, stdout, stderr } = await run(args, dir);
      assert.equal(code, 2);
      assert.equal(stdout, '');
      assert.equal(
        stderr,
        `gateway: unknown flag ${flag} for gateway ${command}\nrun "gateway ${command} --help" for its usage\n`,
      );
    });
  }
});

describe('ports that are not ports', () => {
  let project: Awaited<ReturnType<typeof writeProject>>;

  before(async () => {
    project = await writeProject([
      { name: 'users', url: 'http://127.0.0.1:1/graphql', sdl: SHOP[0]!.sdl },
    ]);
    const config = await readFile(project.configFile, 'utf8');
    await project.write('grpc.yaml', `${config}grpc_server:\n  port: \${GRPC_PORT:-50051}\n`);
  });

  after(() => project.remove());

  /**
   * Where the port came from, its value, and what the command says: a variable is wrong
   * configuration (exit 1), a flag wrong usage (exit 2). Each fails before anything listens.
   */
  const PORTS: [string, Record<string, string>, string[], RegExp, number][] = [
    ['PORT', { PORT: 'abc' }, ['start'], /^gateway: PORT=abc is not a port \(0-65535\)\n$/, 1],
    ['PORT', { PORT: '70000' }, ['serve-subgraph', 'users'], /PORT=70000 is not a port/, 1],
    ['ADMIN_PORT', { ADMIN_PORT: '-1' }, ['start'], /ADMIN_PORT=-1 is not a port \(0-65535\)/, 1],
    [
      'GRPC_PORT',
      { GRPC_PORT: 'abc' },
      ['start', '--config', 'grpc.yaml', '--port', '0'],
      /grpc\.yaml:\d+:\d+: grpc_server\.port: GRPC_PORT=abc is not a port \(0-65535\)/,
      1,
    ],
    ['--port', {}, ['start', '--port', '4000x'], /--port 4000x is not a port \(0-65535\)/, 2],
    ['--admin-port', {}, ['start', '--admin-port', ''], /--admin-port "" is not a port/, 2],
    ['--port', {}, ['serve-subgraph', 'users', '--port', '1.5'], /--port 1\.5 is not a port/, 2],
  ];

  for (const [name, env, args, message, exitCode] of PORTS) {
    const value = Object.values(env)[0] ?? args.at(-1);
    test(`${name}=${value} fails gateway ${args[0]} with exit ${exitCode}, naming it and the value`, async () => {
      const { code, stderr } = await run(args, project.dir, '', env);
      assert.equal(code, exitCode, stderr);
      assert.match(stderr, message);
    });
  }
});

describe('gateway rest print into a file', () => {
  let project: Awaited<ReturnType<typeof writeProject>>;
  const SCHEMA = 'schemas/library.graphql';

  // The adapter is only built, never called: no REST service runs.
  before(async () => {
    project = await writeProject([]);
    await mkdir(join(project.dir, 'schemas'));
    await project.write(SCHEMA, LIBRARY_SDL);
    await project.write(
      'supergraph.yaml',
      'subgraphs:\n  library:\n    schema: { file: ./schemas/library.graphql }\n    source: { kind: rest, base_url: "http://127.0.0.1:1" }\n',
    );
  });

  after(() => project.remove());

  /** Runs `args` with stdout opened on `file` as a shell redirect opens it (`>`: w, `>>`: a). */
  async function runInto(args: string[], file: string, flags: 'w' | 'a') {
    const fd = openSync(join(project.dir, file), flags);
    try {
      const child = spawn(process.execPath, [BIN, ...args], {
        cwd: project.dir,
        stdio: ['ignore', fd, 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      const [code] = await once(child, 'exit');
      return { code: code as number, stderr };
    } finally {
      closeSync(fd);
    }
  }

  test('rest print --output writes the SDL over the schema file it reads, whole, and nothing beside it', async () => {
    const printed = await run(['rest', 'print', 'library'], project.dir);
    assert.equal(printed.code, 0, printed.stderr);
    for (const flag of ['--output', '-o']) {
      const { code, stdout, stderr } = await run(
        ['rest', 'print', 'library', flag, SCHEMA],
        project.dir,
      );
      assert.equal(code, 0, stderr);
      assert.equal(stdout, '');
      assert.equal(await readFile(join(project.dir, SCHEMA), 'utf8'), printed.stdout);
      // The temporary file was renamed over the schema, not left beside it.
      assert.deepEqual(await readdir(join(project.dir, 'schemas')), ['library.graphql']);
    }
  });

  test('rest print --output writes nothing when the print fails', async () => {
    const { code } = await run(['rest', 'print', 'nope', '--output', 'out.graphql'], project.dir);
    assert.equal(code, 2);
    await assert.rejects(readFile(join(project.dir, 'out.graphql')));
  });

  test('rest print > the schema file it reads is refused, saying the shell emptied it', async () => {
    const { code, stderr } = await runInto(['rest', 'print', 'library'], SCHEMA, 'w');
    assert.equal(code, 2);
    assert.match(
      stderr,
      /^gateway: the shell emptied schemas\/library\.graphql before the command could read it: restore it, then use --output schemas\/library\.graphql\n/,
    );
    await project.write(SCHEMA, LIBRARY_SDL);
  });

  test('rest print >> the schema file it reads is refused, and the file is left as it was', async () => {
    const { code, stderr } = await runInto(['rest', 'print', 'library'], SCHEMA, 'a');
    assert.equal(code, 2);
    assert.match(
      stderr,
      /stdout is schemas\/library\.graphql, which this command reads: use --output schemas\/library\.graphql/,
    );
    assert.equal(await readFile(join(project.dir, SCHEMA), 'utf8'), LIBRARY_SDL);
  });

  test('rest print > another file writes the SDL there', async () => {
    const { code, stderr } = await runInto(['rest', 'print', 'library'], 'out.graphql', 'w');
    assert.equal(code, 0, stderr);
    assert.match(await readFile(join(project.dir, 'out.graphql'), 'utf8'), /type Author/);
  });
});

describe('a proto naming a type that does not exist', () => {
  let project: Awaited<ReturnType<typeof writeProject>>;
  const PROTOS = join(import.meta.dirname, '../fixtures/protos/unknown-type');

  before(async () => {
    project = await writeProject([]);
    await project.write(
      'supergraph.yaml',
      `subgraphs:\n  orders:\n    source:\n      kind: grpc\n      address: 127.0.0.1:1\n      protos: [demo/v1/orders.proto]\n      include_dirs: [${PROTOS}]\n`,
    );
  });

  after(() => project.remove());

  // Order.bar is declared on line 16 of the fixture, its type at column 3.
  for (const args of [
    ['grpc', 'print', 'orders'],
    ['compose', '--output', '-'],
    ['start', '--port', '0'],
  ]) {
    test(`gateway ${args.join(' ')} exits 1 naming the proto file, line and field`, async () => {
      const { code, stderr } = await run(args, project.dir);
      assert.equal(code, 1);
      assert.match(
        stderr,
        /subgraphs\.orders\.source\.protos: \S*unknown-type\/demo\/v1\/orders\.proto:16:3: unknown type "Foo" \(field demo\.v1\.Order\.bar\)/,
      );
    });
  }
});
