import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.ts';
import { adminListener, ServerConfig, withAdminPort } from '../../../src/config/schema.ts';
import { CONFIG_FILE, configFailure, ONE_SUBGRAPH } from '../../helpers/config.ts';

const server = (yaml: string) =>
  parseConfig(`${ONE_SUBGRAPH}${yaml}`, CONFIG_FILE, {}).config.server;

test('the admin listener opens by mode and by server.admin', () => {
  const table: [string, string, { host: string; port: number } | undefined][] = [
    ['production, by default', '', { host: '127.0.0.1', port: 8088 }],
    [
      'production, moved',
      'server: { admin: { host: 10.0.0.5, port: 9000 } }',
      { host: '10.0.0.5', port: 9000 },
    ],
    ['production, turned off', 'server: { admin: { enabled: false } }', undefined],
    ['development, by default', 'server: { mode: development }', undefined],
    [
      'development, given',
      'server: { mode: development, admin: { port: 0 } }',
      { host: '127.0.0.1', port: 0 },
    ],
    [
      'development, turned on',
      'server: { mode: development, admin: { enabled: true } }',
      { host: '127.0.0.1', port: 8088 },
    ],
  ];
  for (const [name, yaml, expected] of table)
    assert.deepEqual(adminListener(server(yaml ? `${yaml}\n` : '')), expected, name);
});

test('a port given on the command line moves the admin listener and never opens one', () => {
  const production = ServerConfig.parse({});
  assert.deepEqual(adminListener(withAdminPort(production, 0)), { host: '127.0.0.1', port: 0 });
  const development = ServerConfig.parse({ mode: 'development' });
  assert.equal(adminListener(withAdminPort(development, 0)), undefined);
});

test('metrics.port and metrics.host are refused with a pointer to server.admin', () => {
  const message = configFailure(
    `${ONE_SUBGRAPH}metrics:\n  port: 9464\n  host: 0.0.0.0\n`,
    CONFIG_FILE,
  );
  assert.match(
    message,
    /metrics\.port: metrics are served on the admin listener now: set server\.admin\.port/,
  );
  assert.match(
    message,
    /metrics\.host: metrics are served on the admin listener now: set server\.admin\.host/,
  );
});

test('server.admin refuses a port out of range and unknown keys', () => {
  assert.match(
    configFailure(`${ONE_SUBGRAPH}server:\n  admin:\n    port: 70000\n`, CONFIG_FILE),
    /server\.admin\.port/,
  );
  assert.match(
    configFailure(`${ONE_SUBGRAPH}server:\n  admin:\n    tls: true\n`, CONFIG_FILE),
    /server\.admin\.tls: unknown key "tls"/,
  );
});
