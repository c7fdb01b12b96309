import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/config/errors.ts';
import { parseConfig } from '../../../src/config/load.ts';
import { CONFIG_FILE, configFailure, ONE_SUBGRAPH } from '../../helpers/config.ts';
import { buildClients } from '../../../src/bff/clients.ts';

const FILE = CONFIG_FILE;
const BASE = `${ONE_SUBGRAPH}auth:
  api_keys:
    keys:
      - { name: acme-app, sha256: ${'a'.repeat(64)}, client_id: acme }
`;

/** The top-level trusted documents of a parsed config, without a manifest read. */
const topDocuments = (config: ReturnType<typeof parseConfig>['config']) => ({
  settings: config.persisted_documents,
  manifest: new Map<string, string>(),
});

/** The message the user sees, for a config that must fail. */
const failure = (clients: string): string => configFailure(`${BASE}clients:\n${clients}`, FILE);

test('without clients, none is configured: the GraphQL surface stays as it was', () => {
  const { config } = parseConfig(BASE, FILE, {});
  assert.deepEqual(config.clients, {});
  assert.equal(
    buildClients(
      config.clients,
      config.server,
      config.limits,
      topDocuments(config),
      new Map(),
      new Map(),
    ).size,
    0,
  );
});

test('two default clients are refused at the second, with its line and key path', () => {
  const message = failure(`  web: { default: true }\n  mobile: { default: true }\n`);
  assert.match(
    message,
    /supergraph\.yaml:13:\d+: clients\.mobile\.default: client web is the default already/,
  );
});

test('a binding to an API key client id no key has is refused with its key path', () => {
  const message = failure(`  partner: { api_keys: [acme, nobody] }\n`);
  assert.match(
    message,
    /clients\.partner\.api_keys\[1\]: no key of auth\.api_keys\.keys has client_id "nobody"/,
  );
});

test('an API key client id bound by two clients is refused: a key identifies one client', () => {
  const message = failure(`  a: { api_keys: [acme] }\n  b: { api_keys: [acme] }\n`);
  assert.match(message, /clients\.b\.api_keys\[0\]: "acme" is bound to client a already/);
});

for (const id of ['Web', 'mobile_app', '-web', 'web app']) {
  test(`a client id such as ${JSON.stringify(id)} is refused`, () => {
    assert.match(
      failure(`  ${JSON.stringify(id)}: {}\n`),
      /client ids are lowercase letters, digits and -/,
    );
  });
}

test('two clients on one endpoint, or a client on server.graphql_path, are refused', () => {
  assert.match(
    failure(`  a: {}\n  b: { endpoint: /graphql/a }\n`),
    /clients\.b\.endpoint: \/graphql\/a is the endpoint of client a too/,
  );
  assert.match(
    failure(`  a: { endpoint: /graphql }\n`),
    /clients\.a\.endpoint: \/graphql is the endpoint of \(server\.graphql_path\) too/,
  );
});

test("a client's limits are the global ones with only what it sets replaced", () => {
  const { config } = parseConfig(
    `${BASE}limits:
  operation: { max_depth: 40 }
  rate: { policies: [{ name: global, limit: 100, window: 60s }] }
clients:
  web: { default: true, limits: { operation: { max_aliases: 3 }, cost: { max: 50 } } }
  mobile: { introspection: true, limits: { rate: { policies: [{ name: m, limit: 5, window: 1s }] } } }
`,
    FILE,
    {},
  );
  const clients = buildClients(
    config.clients,
    config.server,
    config.limits,
    topDocuments(config),
    new Map(),
    new Map(),
  );
  const web = clients.atEndpoint('/graphql');
  assert.equal(web?.id, 'web');
  assert.equal(clients.atEndpoint('/graphql/web'), web);
  assert.deepEqual(
    { ...web!.limits.operation },
    { ...config.limits.operation, max_depth: 40, max_aliases: 3 },
  );
  assert.equal(web!.limits.cost.max, 50);
  assert.equal(web!.limits.rate, config.limits.rate);
  // Production mode: introspection off unless the client turns it on.
  assert.equal(web!.introspection, false);
  const mobile = clients.atEndpoint('/graphql/mobile')!;
  assert.equal(mobile.introspection, true);
  assert.deepEqual(
    mobile.limits.rate.policies.map((p) => p.name),
    ['m'],
  );
  assert.equal(mobile.limits.operation, config.limits.operation);
  assert.equal(clients.atEndpoint('/graphql/nope'), undefined);
});

test('a client on a path the server answers first (probes, metrics) is refused', () => {
  assert.match(
    failure(`  a: { endpoint: /healthz }\n`),
    /clients\.a\.endpoint: \/healthz is the endpoint of the liveness probe too/,
  );
  assert.match(
    failure(`  a: { endpoint: /metrics }\n`),
    /clients\.a\.endpoint: \/metrics is the endpoint of the metrics too/,
  );
});

test('a client requiring credentials with nothing configured to verify them is refused', () => {
  try {
    parseConfig(BASE.replace(/auth:[\s\S]*$/, 'clients:\n  a: { auth: required }\n'), FILE, {});
    assert.fail('the config was accepted');
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    assert.match(
      error.message,
      /clients\.a\.auth: required, but no jwt, introspection or api_keys/,
    );
  }
});
