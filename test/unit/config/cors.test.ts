import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/load.ts';
import { CONFIG_FILE, configFailure, ONE_SUBGRAPH } from '../../helpers/config.ts';

const FILE = CONFIG_FILE;
const BASE = ONE_SUBGRAPH;

/** The message the user sees for a top-level `cors` mapping that must fail (line 7 on). */
const failure = (cors: string): string => configFailure(`${BASE}cors:\n${cors}`, FILE);

test('without cors nothing is configured: no CORS headers anywhere', () => {
  const { config } = parseConfig(BASE, FILE, {});
  assert.equal(config.cors, undefined);
});

test('defaults: no origins, no credentials, GET POST OPTIONS, headers mirrored, no max-age', () => {
  const { config } = parseConfig(`${BASE}cors:\n  origins: [https://app.example]\n`, FILE, {});
  assert.deepEqual(config.cors, {
    origins: ['https://app.example'],
    match_origins: [],
    allow_credentials: false,
    methods: ['GET', 'POST', 'OPTIONS'],
  });
});

test('max_age is a duration; methods and header names are normalised', () => {
  const { config } = parseConfig(
    `${BASE}cors:\n  max_age: 5m\n  methods: [get, patch]\n  allow_headers: [Content-Type]\n`,
    FILE,
    {},
  );
  assert.equal(config.cors?.max_age, 300_000);
  assert.deepEqual(config.cors?.methods, ['GET', 'PATCH']);
  assert.deepEqual(config.cors?.allow_headers, ['content-type']);
});

test('* with allow_credentials is refused at the origin, with file, line and key path', () => {
  const message = failure(`  allow_credentials: true\n  origins: [https://a.example, '*']\n`);
  assert.match(
    message,
    /supergraph\.yaml:9:\d+: cors\.origins\[1\]: \* cannot allow credentials \(the Fetch standard refuses it\)/,
  );
});

test('* without credentials is accepted', () => {
  const { config } = parseConfig(`${BASE}cors:\n  origins: ['*']\n`, FILE, {});
  assert.deepEqual(config.cors?.origins, ['*']);
});

test('an origin must be serialized: no path, no trailing slash, no default port, lower case', () => {
  for (const origin of [
    'https://app.example/',
    'https://app.example/graphql',
    'https://app.example:443',
    'https://APP.example',
    'app.example',
    'null',
  ]) {
    assert.match(
      failure(`  origins: ['${origin}']\n`),
      /supergraph\.yaml:8:\d+: cors\.origins\[0\]: expected a serialized origin such as https:\/\/app\.example\.com/,
      origin,
    );
  }
});

test('a match_origins entry that is not a regular expression is refused', () => {
  assert.match(
    failure(`  match_origins: ['https://(a|b']\n`),
    /supergraph\.yaml:8:\d+: cors\.match_origins\[0\]: not a regular expression/,
  );
});

test('* in allow_headers or methods is refused, and in expose_headers with credentials', () => {
  assert.match(
    failure(`  allow_headers: ['*']\n`),
    /cors\.allow_headers\[0\]: leave allow_headers out to allow the headers each preflight asks for/,
  );
  assert.match(failure(`  methods: ['*']\n`), /cors\.methods\[0\]: list the methods/);
  assert.match(
    failure(`  allow_credentials: true\n  expose_headers: ['*']\n`),
    /cors\.expose_headers\[0\]: \* means a header named \*/,
  );
});

test("a client's cors is validated with its key path", () => {
  const message = configFailure(
    `${BASE}clients:\n  web:\n    cors:\n      origins: [https://web.example/app]\n`,
    FILE,
  );
  assert.match(
    message,
    /supergraph\.yaml:10:\d+: clients\.web\.cors\.origins\[0\]: expected a serialized origin/,
  );
});

test('an unknown cors key is refused', () => {
  assert.match(
    failure(`  allowed_origins: [https://a.example]\n`),
    /supergraph\.yaml:8:3: cors\.allowed_origins: unknown key "allowed_origins"/,
  );
});
