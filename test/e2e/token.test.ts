// `npm run token` as a developer runs it: the script of package.json, in its own process, with
// the development issuer's keys in a temporary folder (DEMO_KEYS_DIR) instead of .demo-keys/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import {
  DEV_AUDIENCE,
  DEV_ISSUER,
  loadOrCreateDevIssuerKey,
  startDevIssuer,
} from '../../demo/dev-issuer.ts';

const ROOT = join(import.meta.dirname, '../..');

/** package.json's `token` script (`node <args>`), run by the node that runs the tests. */
function tokenArgs(): string[] {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: { token: string };
  };
  const [command, ...args] = scripts.token.split(' ');
  assert.equal(command, 'node', 'npm run token runs node directly');
  return args;
}

async function runToken(keysDir: string, args: string[]) {
  const child = spawn(process.execPath, [...tokenArgs(), ...args], {
    cwd: ROOT,
    env: { ...process.env, DEMO_KEYS_DIR: keysDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout, stderr };
}

async function keysFolder(t: { after(fn: () => Promise<void>): void }) {
  const parent = await mkdtemp(join(tmpdir(), 'demo-keys-'));
  t.after(() => rm(parent, { recursive: true, force: true }));
  return join(parent, '.demo-keys');
}

test('npm run token prints a token that verifies against the dev issuer JWKS served over HTTP', async (t) => {
  const keysDir = await keysFolder(t);
  const { code, stdout } = await runToken(keysDir, [
    '--sub',
    '1',
    '--scopes',
    'users:email orders:write',
  ]);
  assert.equal(code, 0);
  assert.match(stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/, 'one compact JWT and nothing else');

  const issuer = await startDevIssuer({ port: 0, keysDir });
  t.after(() => issuer.close());
  const { payload, protectedHeader } = await jwtVerify(
    stdout.trim(),
    createRemoteJWKSet(new URL(issuer.jwksUrl)),
    { issuer: DEV_ISSUER, audience: DEV_AUDIENCE, algorithms: ['RS256'], typ: 'JWT' },
  );
  assert.equal(protectedHeader.alg, 'RS256');
  assert.equal(payload.sub, '1');
  assert.equal(payload.scope, 'users:email orders:write');
  assert.equal(payload.exp! - payload.iat!, 3600, 'an hour by default');
  assert.equal(typeof payload.jti, 'string');
});

test('the key is made on first use, readable by its owner only, and reused afterwards', async (t) => {
  const keysDir = await keysFolder(t);
  const first = await runToken(keysDir, ['--sub', '1']);
  const second = await runToken(keysDir, ['--sub', '2']);
  assert.equal(decodeProtectedHeader(first.stdout).kid, decodeProtectedHeader(second.stdout).kid);
  assert.equal((await stat(keysDir)).mode & 0o777, 0o700);
  assert.equal((await stat(join(keysDir, 'dev-issuer.jwk.json'))).mode & 0o777, 0o600);
  // The served JWKS is the public half only.
  const issuer = await startDevIssuer({ port: 0, keysDir });
  t.after(() => issuer.close());
  const res = await fetch(issuer.jwksUrl);
  assert.equal(res.headers.get('content-type'), 'application/jwk-set+json');
  const { keys } = (await res.json()) as { keys: Record<string, unknown>[] };
  assert.deepEqual(Object.keys(keys[0]!).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use']);
  assert.equal(keys[0]!.kid, decodeProtectedHeader(first.stdout).kid);
});

test('runs racing on a fresh checkout agree on one key', async (t) => {
  const keysDir = await keysFolder(t);
  const [a, b, key] = await Promise.all([
    runToken(keysDir, ['--sub', '1']),
    runToken(keysDir, ['--sub', '2']),
    loadOrCreateDevIssuerKey(keysDir),
  ]);
  assert.equal(decodeProtectedHeader(a.stdout).kid, key.kid);
  assert.equal(decodeProtectedHeader(b.stdout).kid, key.kid);
  assert.equal(
    JSON.parse(await readFile(join(keysDir, 'dev-issuer.jwk.json'), 'utf8')).kid,
    key.kid,
  );
});

test('--ttl and --aud set exp and aud', async (t) => {
  const keysDir = await keysFolder(t);
  const { stdout } = await runToken(keysDir, ['--sub', '1', '--ttl', '15m', '--aud', 'other']);
  const payload = JSON.parse(Buffer.from(stdout.split('.')[1]!, 'base64url').toString()) as {
    aud: string;
    iat: number;
    exp: number;
  };
  assert.equal(payload.aud, 'other');
  assert.equal(payload.exp - payload.iat, 900);
});

test('without --sub it prints the usage to stderr and exits 2', async (t) => {
  const { code, stdout, stderr } = await runToken(await keysFolder(t), ['--scopes', 'a']);
  assert.equal(code, 2);
  assert.equal(stdout, '');
  assert.match(stderr, /--sub is required\nusage: npm run token -- --sub <id>/);
});
