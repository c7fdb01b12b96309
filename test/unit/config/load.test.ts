import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../../src/config/load.ts';
import { configFailure } from '../../helpers/config.ts';

const FILE = join(process.cwd(), 'supergraph.yaml');
const VALID = `federation_version: =2.3.0
subgraphs:
  users:
    routing_url: http://127.0.0.1:4001/graphql
    schema:
      file: ./users.graphql
`;

/** The message the user sees, for a config that must fail. */
const failure = (text: string, env: Record<string, string> = {}): string =>
  configFailure(text, FILE, env);

test('a rover-only file loads with every default applied', () => {
  const { config } = parseConfig(VALID, FILE, {});
  assert.equal(config.federation_version, '=2.3.0');
  assert.deepEqual(config.subgraphs.users, {
    routing_url: 'http://127.0.0.1:4001/graphql',
    schema: { file: './users.graphql' },
    timeout: 30_000,
    headers: {},
    forward_headers: [],
  });
  assert.equal(config.server.port, 4000);
  assert.equal(config.server.host, '127.0.0.1');
  assert.equal(config.server.mode, 'production');
  assert.equal(config.server.body_limit, 1_048_576);
  assert.equal(config.server.shutdown_timeout, 10_000);
  assert.equal(config.log.level, 'info');
});

test('the loaded config is frozen all the way down', () => {
  const { config } = parseConfig(VALID, FILE, {});
  assert.throws(() => {
    (config.server as { port: number }).port = 1;
  }, TypeError);
  assert.throws(() => {
    (config.subgraphs.users as { timeout: number }).timeout = 1;
  }, TypeError);
});

test('interpolation gives an unquoted value its YAML type and keeps a quoted one a string', () => {
  const text = `${VALID}server:\n  port: \${PORT:-4000}\n  host: "\${HOST:-0.0.0.0}"\n  introspection: \${INTRO}\n`;
  const { config } = parseConfig(text, FILE, { PORT: '8080', INTRO: 'true' });
  assert.equal(config.server.port, 8080);
  assert.equal(config.server.host, '0.0.0.0');
  assert.equal(config.server.introspection, true);
});

test('a listen port set by a variable that is not a port names the variable and its value', () => {
  // One row per listen port the config has; each value read from a variable of the row's name.
  const table: [string, string, string, string][] = [
    ['server:\n  port: ${PORT:-4000}', 'PORT', 'abc', 'server.port'],
    ['server:\n  admin:\n    port: ${ADMIN_PORT}', 'ADMIN_PORT', '70000', 'server.admin.port'],
    ['grpc_server:\n  port: ${GRPC_PORT:-50051}', 'GRPC_PORT', '1.5', 'grpc_server.port'],
    ['grpc_server:\n  port: ${GRPC_PORT:-50051}', 'GRPC_PORT', '-1', 'grpc_server.port'],
  ];
  for (const [yaml, variable, value, key] of table) {
    const message = failure(`${VALID}${yaml}\n`, { [variable]: value });
    assert.match(
      message,
      new RegExp(
        `supergraph\\.yaml:\\d+:\\d+: ${key.replaceAll('.', '\\.')}: ${variable}=${value.replace('.', '\\.')} is not a port \\(0-65535\\)`,
      ),
      `${variable}=${value}`,
    );
  }
});

test('a bad port written in the file, or made of more than a variable, keeps the schema message', () => {
  assert.match(failure(`${VALID}server:\n  port: abc\n`), /server\.port: expected a number/);
  // A value with more than the variable in it is not the variable's alone.
  assert.match(
    failure(`${VALID}server:\n  port: \${PORT}0\n`, { PORT: 'x' }),
    /server\.port: expected a number/,
  );
});

test('durations and sizes accept units', () => {
  const text =
    VALID.replace(
      '      file: ./users.graphql\n',
      '      file: ./users.graphql\n    timeout: 1.5s\n',
    ) + 'server:\n  body_limit: 2mb\n  shutdown_timeout: 2m\n  keep_alive_timeout: 250\n';
  const { config } = parseConfig(text, FILE, {});
  assert.equal(config.subgraphs.users?.timeout, 1_500);
  assert.equal(config.server.body_limit, 2_000_000);
  assert.equal(config.server.shutdown_timeout, 120_000);
  assert.equal(config.server.keep_alive_timeout, 250);
});

test('routing_url defaults to schema.subgraph_url', () => {
  const { config } = parseConfig(
    'subgraphs:\n  a:\n    schema:\n      subgraph_url: http://a.test/graphql\n',
    FILE,
    {},
  );
  assert.equal(config.subgraphs.a?.routing_url, 'http://a.test/graphql');
});

/** One row per kind of config error: the exact first line the user reads. */
const errors: [string, string, Record<string, string>?][] = [
  ['bad YAML syntax', 'subgraphs:\n  users: [\n'],
  ['a duplicate key', `${VALID}subgraphs:\n  x: 1\n`],
  ['an unknown top-level key', `${VALID}servr:\n  port: 1\n`],
  ['an unknown nested key', `${VALID}server:\n  prot: 4000\n`],
  ['a wrong type', `${VALID}server:\n  port: lots\n`],
  ['a bad URL', VALID.replace('http://127.0.0.1:4001/graphql', 'not a url')],
  ['a missing schema', 'subgraphs:\n  users:\n    routing_url: http://a.test/graphql\n'],
  [
    'two schema sources',
    VALID.replace(
      '      file: ./users.graphql\n',
      '      file: ./users.graphql\n      sdl: "type Query { a: Int }"\n',
    ),
  ],
  [
    'a graphref',
    VALID.replace(
      '      file: ./users.graphql\n',
      '      graphref: shop@current\n      subgraph: users\n',
    ),
  ],
  ['Federation 1', VALID.replace('=2.3.0', '1')],
  [
    'a bad duration',
    VALID.replace(
      '      file: ./users.graphql\n',
      '      file: ./users.graphql\n    timeout: soon\n',
    ),
  ],
  ['an unset variable', VALID.replace('http://127.0.0.1:4001/graphql', '${USERS_URL}')],
  ['no subgraphs', 'subgraphs: {}\n'],
  ['a bad subgraph name', VALID.replace('  users:', '  9users:')],
  ['an enum value', `${VALID}server:\n  mode: dev\n`],
  ['not a mapping', '- a\n- b\n'],
  [
    'a BFF calling a backend that is not REST',
    `${VALID}  mobile:\n    schema:\n      file: ./mobile.graphql\n    source:\n      kind: bff\n      resolvers: ./mobile.ts\n      rest: [users]\n`,
  ],
];
const expected: Record<string, string> = {
  'bad YAML syntax':
    'supergraph.yaml:3:1: Flow sequence in block collection must be sufficiently indented and end with a ]',
  'a duplicate key': 'supergraph.yaml:7:1: Map keys must be unique',
  'an unknown top-level key':
    'supergraph.yaml:7:1: servr: unknown key "servr" (did you mean "server"?)',
  'an unknown nested key':
    'supergraph.yaml:8:3: server.prot: unknown key "prot" (did you mean "port"?)',
  'a wrong type': 'supergraph.yaml:8:9: server.port: expected a number',
  'a bad URL': 'supergraph.yaml:4:18: subgraphs.users.routing_url: expected an http or https URL',
  'a missing schema': 'supergraph.yaml:2:3: subgraphs.users.schema: required',
  'two schema sources':
    'supergraph.yaml:6:7: subgraphs.users.schema: expected only one of file, subgraph_url or sdl, got file and sdl',
  'a graphref':
    'supergraph.yaml:6:17: subgraphs.users.schema.graphref: graphref needs Apollo GraphOS, which this gateway does not call; use file, subgraph_url or sdl',
  'Federation 1':
    'supergraph.yaml:1:21: federation_version: expected a Federation 2 version such as =2.9.0 or 2 (Federation 1 is not supported)',
  'a bad duration':
    'supergraph.yaml:7:14: subgraphs.users.timeout: expected a duration such as 250ms, 10s, 2m, or a number of milliseconds',
  'an unset variable':
    'supergraph.yaml:4:18: subgraphs.users.routing_url: environment variable USERS_URL is not set (write ${USERS_URL:-default} to give one)',
  'no subgraphs': 'supergraph.yaml:1:12: subgraphs: expected at least one subgraph',
  'a bad subgraph name':
    'supergraph.yaml:3:3: subgraphs.9users: subgraph names start with a letter: letters, digits, _ and -',
  'an enum value': 'supergraph.yaml:8:9: server.mode: expected one of development, production',
  'not a mapping': 'supergraph.yaml: expected a mapping with at least a `subgraphs` key',
  'a BFF calling a backend that is not REST':
    'supergraph.yaml:13:14: subgraphs.mobile.source.rest[0]: users is not a subgraph with a REST source',
};
for (const [name, text, env] of errors) {
  test(`${name} is reported with file, line, column and key path`, () => {
    assert.equal(failure(text, env).split('\n')[0], expected[name]);
  });
}

test('an error shows the line as written with a caret under the column', () => {
  const message = failure(VALID.replace('http://127.0.0.1:4001/graphql', 'htp//x'));
  assert.equal(
    message,
    [
      'supergraph.yaml:4:18: subgraphs.users.routing_url: expected an http or https URL',
      ' 4 |     routing_url: htp//x',
      '   |                  ^',
    ].join('\n'),
  );
});

test('every problem is reported at once, in line order', () => {
  const text = `subgraphs:\n  users:\n    routing_url: nope\n    schema:\n      file: ./u.graphql\nserver:\n  port: -1\n  mode: dev\n`;
  const lines = failure(text)
    .split('\n')
    .filter((l) => l.startsWith('supergraph.yaml'));
  assert.deepEqual(
    lines.map((l) => l.split(' ')[0]),
    ['supergraph.yaml:3:18:', 'supergraph.yaml:7:9:', 'supergraph.yaml:8:9:'],
  );
});

test('a secret from the environment never appears in an error message', () => {
  const secret = 's3cr3t-t0ken-value';
  const message = failure(
    VALID.replace('http://127.0.0.1:4001/graphql', 'http://user:${TOKEN}@ not-a-host'),
    { TOKEN: secret },
  );
  assert.match(message, /subgraphs\.users\.routing_url: expected an http or https URL/);
  assert.doesNotMatch(message, new RegExp(secret));
  assert.match(message, /\$\{TOKEN\}/, 'the snippet shows the file as written');
});

test('loading reads schema files relative to the config and lists what to watch', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'config-'));
  await writeFile(join(dir, 'supergraph.yaml'), VALID);
  await writeFile(join(dir, 'users.graphql'), 'type Query { a: Int }');
  const loaded = await loadConfig(join(dir, 'supergraph.yaml'), {});
  assert.deepEqual(loaded.schemas.get('users'), {
    kind: 'file',
    file: join(dir, 'users.graphql'),
    sdl: 'type Query { a: Int }',
  });
  assert.deepEqual(loaded.watchFiles, [join(dir, 'supergraph.yaml'), join(dir, 'users.graphql')]);
});

test('a missing schema file is reported at its key', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'config-'));
  await writeFile(join(dir, 'supergraph.yaml'), VALID);
  await assert.rejects(loadConfig(join(dir, 'supergraph.yaml'), {}), (error: Error) => {
    assert.match(
      error.message,
      /supergraph\.yaml:6:13: subgraphs\.users\.schema\.file: cannot read schema file \.\/users\.graphql \(ENOENT\)/,
    );
    return true;
  });
});

test('an empty schema file is reported at its key', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'config-'));
  await writeFile(join(dir, 'supergraph.yaml'), VALID);
  await writeFile(join(dir, 'users.graphql'), '  \n');
  await assert.rejects(
    loadConfig(join(dir, 'supergraph.yaml'), {}),
    /subgraphs\.users\.schema\.file: cannot read schema file \.\/users\.graphql \(empty file\)/,
  );
});

test('a missing config file says so', async () => {
  await assert.rejects(
    loadConfig('/nonexistent/supergraph.yaml', {}),
    /^Error|supergraph\.yaml: cannot read file \(ENOENT\)/,
  );
});

test('inline SDL records the line it starts on', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'config-'));
  await writeFile(
    join(dir, 'supergraph.yaml'),
    'subgraphs:\n  a:\n    routing_url: http://a.test\n    schema:\n      sdl: |\n        type Query { a: Int }\n',
  );
  const loaded = await loadConfig(join(dir, 'supergraph.yaml'), {});
  assert.deepEqual(loaded.schemas.get('a'), {
    kind: 'sdl',
    sdl: 'type Query { a: Int }\n',
    file: join(dir, 'supergraph.yaml'),
    line: 6,
  });
});

test('a Redis limit store without redis.url is reported at limits.store.kind', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'config-'));
  await writeFile(join(dir, 'users.graphql'), 'type Query { a: Int }');
  await writeFile(join(dir, 'supergraph.yaml'), `${VALID}limits:\n  store:\n    kind: redis\n`);
  await assert.rejects(
    loadConfig(join(dir, 'supergraph.yaml'), {}),
    /supergraph\.yaml:9:11: limits\.store\.kind: redis needs redis\.url, redis\.sentinel or redis\.cluster \(the shared server\)/,
  );
  await writeFile(
    join(dir, 'supergraph.yaml'),
    `${VALID}limits:\n  store:\n    kind: redis\nredis:\n  url: \${REDIS_URL:-redis://127.0.0.1:6379}\n`,
  );
  const loaded = await loadConfig(join(dir, 'supergraph.yaml'), {});
  assert.equal(loaded.config.redis.url, 'redis://127.0.0.1:6379');
  assert.equal(loaded.config.redis.command_timeout, 100);
});

test('redis.sentinel stands for redis.url: it satisfies a Redis store, with its defaults', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'config-'));
  await writeFile(join(dir, 'users.graphql'), 'type Query { a: Int }');
  await writeFile(
    join(dir, 'supergraph.yaml'),
    `${VALID}cache:\n  store: redis\nredis:\n  sentinel:\n    master: main\n    nodes: [sentinel-0:26379, '[::1]:26380']\n    password: \${REDIS_PASSWORD}\n`,
  );
  const loaded = await loadConfig(join(dir, 'supergraph.yaml'), { REDIS_PASSWORD: 'pw' });
  assert.deepEqual(loaded.config.redis.sentinel, {
    master: 'main',
    nodes: ['sentinel-0:26379', '[::1]:26380'],
    password: 'pw',
    db: 0,
    tls: false,
  });
  assert.equal(loaded.config.redis.url, undefined);
});

test('redis.url and redis.sentinel together are refused at redis.sentinel', () => {
  const text = `${VALID}redis:\n  url: redis://127.0.0.1:6379\n  sentinel:\n    master: main\n    nodes: [127.0.0.1:26379]\n`;
  assert.match(
    failure(text),
    /supergraph\.yaml:10:5: redis\.sentinel: give one of redis\.url, redis\.sentinel, redis\.cluster, not redis\.url and redis\.sentinel/,
  );
});

test('redis.cluster stands for redis.url, and refuses braces in redis.key_prefix', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'config-'));
  await writeFile(join(dir, 'users.graphql'), 'type Query { a: Int }');
  const cluster = `${VALID}limits:\n  store:\n    kind: redis\nredis:\n  cluster:\n    nodes: [redis-0:6379]\n`;
  await writeFile(join(dir, 'supergraph.yaml'), cluster);
  const loaded = await loadConfig(join(dir, 'supergraph.yaml'), {});
  assert.deepEqual(loaded.config.redis.cluster, { nodes: ['redis-0:6379'], tls: false });
  // A brace in the prefix would become every key's hash tag: all state on one shard.
  assert.match(
    failure(`${cluster}  key_prefix: "{gateway}:"\n`),
    /supergraph\.yaml:13:15: redis\.key_prefix: must hold no \{ or \} with redis\.cluster/,
  );
  assert.match(
    failure(`${cluster}  url: redis://127.0.0.1:6379\n`),
    /redis\.cluster: give one of redis\.url, redis\.sentinel, redis\.cluster, not redis\.url and redis\.cluster/,
  );
});

test('a sentinel node without a port is reported at its index', () => {
  const text = `${VALID}redis:\n  sentinel:\n    master: main\n    nodes: [sentinel-0]\n`;
  assert.match(
    failure(text),
    /supergraph\.yaml:10:13: redis\.sentinel\.nodes\[0\]: expected host:port/,
  );
});

test('an APQ store in Redis without redis.url is reported at server.apq_cache.store', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'config-'));
  await writeFile(join(dir, 'users.graphql'), 'type Query { a: Int }');
  const apq = `${VALID}server:\n  apq_cache:\n    store: redis\n    ttl: 1h\n`;
  await writeFile(join(dir, 'supergraph.yaml'), apq);
  await assert.rejects(
    loadConfig(join(dir, 'supergraph.yaml'), {}),
    /supergraph\.yaml:9:12: server\.apq_cache\.store: redis needs redis\.url, redis\.sentinel or redis\.cluster \(the shared server\)/,
  );
  await writeFile(join(dir, 'supergraph.yaml'), `${apq}redis:\n  url: redis://127.0.0.1:6379\n`);
  const { server } = (await loadConfig(join(dir, 'supergraph.yaml'), {})).config;
  assert.deepEqual(server.apq_cache, { max_size: 31_457_280, store: 'redis', ttl: 3_600_000 });
});

test('server.apq_cache.ttl must be above 0', () => {
  assert.match(
    failure(`${VALID}server:\n  apq_cache:\n    ttl: 0s\n`),
    /server\.apq_cache\.ttl: must be above 0/,
  );
});

test('a persisted document manifest is read and watched; a broken one names file, key and entry', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'config-'));
  const yaml = `${VALID}persisted_documents:\n  manifest: ./manifest.json\n`;
  await writeFile(join(dir, 'supergraph.yaml'), yaml);
  await writeFile(join(dir, 'users.graphql'), 'type Query { me: String }');
  await writeFile(join(dir, 'manifest.json'), JSON.stringify({ abc: '{ me }' }));
  const loaded = await loadConfig(join(dir, 'supergraph.yaml'), {});
  assert.equal(loaded.persistedManifest.get('abc'), '{ me }');
  assert.ok(loaded.watchFiles.includes(join(dir, 'manifest.json')));
  const broken = {
    format: 'apollo-persisted-query-manifest',
    version: 1,
    operations: [
      { id: 'a', name: 'A', type: 'query', body: '{ me }' },
      { id: 'b', name: 'B' },
    ],
  };
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(broken));
  await assert.rejects(
    loadConfig(join(dir, 'supergraph.yaml'), {}),
    /supergraph\.yaml:8:13: persisted_documents\.manifest: \.\/manifest\.json at operations\.1\.body: expected a non-empty string/,
  );
});

test("a client's own manifest is read and watched; a missing one is reported at its key path", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'config-'));
  const yaml = `${VALID}clients:\n  mobile:\n    persisted_documents:\n      manifest: ./mobile.json\n  web: {}\n`;
  await writeFile(join(dir, 'supergraph.yaml'), yaml);
  await writeFile(join(dir, 'users.graphql'), 'type Query { me: String }');
  await assert.rejects(
    loadConfig(join(dir, 'supergraph.yaml'), {}),
    /supergraph\.yaml:10:17: clients\.mobile\.persisted_documents\.manifest: cannot read manifest \.\/mobile\.json \(ENOENT\)/,
  );
  await writeFile(join(dir, 'mobile.json'), JSON.stringify({ abc: '{ me }' }));
  const loaded = await loadConfig(join(dir, 'supergraph.yaml'), {});
  assert.equal(loaded.clientManifests.get('mobile')?.get('abc'), '{ me }');
  assert.equal(loaded.clientManifests.has('web'), false);
  assert.ok(loaded.watchFiles.includes(join(dir, 'mobile.json')));
});

test('persisted_only needs a manifest and apq off', () => {
  const client = failure(
    `${VALID}clients:\n  mobile:\n    persisted_documents:\n      persisted_only: true\n`,
  );
  assert.match(client, /clients\.mobile\.persisted_documents\.persisted_only: needs a manifest/);

  const message = failure(`${VALID}persisted_documents:\n  persisted_only: true\n`);
  assert.match(message, /persisted_documents\.persisted_only: needs a manifest/);
  assert.match(message, /persisted_documents\.apq: must be false with persisted_only/);
});
