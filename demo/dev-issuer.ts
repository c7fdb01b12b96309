// The demo's development token issuer: one RS256 key pair, made on first use into .demo-keys/
// (ignored by git, the file readable by its owner only), its public half served as a JWKS on
// loopback by `npm start`, its private half used by `npm run token` to sign tokens the demo
// gateway accepts. A stand-in for a real identity provider, for local development only.
import { randomUUID, generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, importJWK, SignJWT, type JWK } from 'jose';
import { listen, type RunningBackend } from './backends/users-rest.ts';

/**
 * The tokens' `iss`. It names the issuer, not where its keys happen to be served: it stays the
 * same when the demo serves the JWKS on another port (DEV_ISSUER_PORT, DEMO_PORT_BASE), so tokens printed by
 * `npm run token` are accepted whatever port the demo runs on.
 */
export const DEV_ISSUER = 'http://127.0.0.1:4204';
/** The tokens' `aud`: what the demo gateway's config accepts. */
export const DEV_AUDIENCE = 'demo-gateway';
export const DEV_JWKS_PATH = '/.well-known/jwks.json';
/** Where the keys live unless DEMO_KEYS_DIR says otherwise: the repository's ignored .demo-keys/. */
export const DEMO_KEYS_DIR = join(import.meta.dirname, '..', '.demo-keys');

const KEY_FILE = 'dev-issuer.jwk.json';
const ALG = 'RS256';

export interface DevIssuerKey {
  readonly kid: string;
  /** The private JWK (RS256), as stored. */
  readonly privateJwk: JWK;
  /** The public JWKS the issuer serves. */
  readonly jwks: { keys: JWK[] };
}

/**
 * The issuer's key from `dir`, made there first if it is missing. Safe when `npm start` and
 * `npm run token` race on a fresh checkout: the key is written to a temporary file and linked
 * into place, which fails if another process got there first, and then that one's key is read.
 */
export async function loadOrCreateDevIssuerKey(dir = DEMO_KEYS_DIR): Promise<DevIssuerKey> {
  const file = join(dir, KEY_FILE);
  let stored = readKeyFile(file);
  if (!stored) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = privateKey.export({ format: 'jwk' }) as JWK;
    const kid = await calculateJwkThumbprint({ kty: jwk.kty, n: jwk.n, e: jwk.e });
    const temporary = join(dir, `.${KEY_FILE}.${process.pid}.${randomUUID()}`);
    // 0600 at creation, so the private key is never readable by others, not even briefly.
    writeFileSync(temporary, `${JSON.stringify({ ...jwk, kid, alg: ALG, use: 'sig' })}\n`, {
      mode: 0o600,
      flag: 'wx',
    });
    try {
      linkSync(temporary, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      unlinkSync(temporary);
    }
    stored = readKeyFile(file);
    if (!stored) throw new Error(`${file} vanished while it was being created`);
  }
  const { kid } = stored;
  if (stored.kty !== 'RSA' || typeof kid !== 'string' || !stored.d) {
    throw new Error(`${file} is not an RS256 private JWK; delete it to have a new key made`);
  }
  const publicJwk: JWK = { kty: 'RSA', n: stored.n, e: stored.e, kid, alg: ALG, use: 'sig' };
  return { kid, privateJwk: stored, jwks: { keys: [publicJwk] } };
}

function readKeyFile(file: string): JWK | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as JWK;
  } catch {
    throw new Error(`${file} is not JSON; delete it to have a new key made`);
  }
}

export interface DevTokenClaims {
  readonly sub: string;
  /** Granted scopes, space-separated in the token's `scope` (absent when none). */
  readonly scopes?: readonly string[];
  /** Seconds until `exp`. @default 3600 */
  readonly ttlS?: number;
  /** @default DEV_AUDIENCE */
  readonly audience?: string;
  /** @default DEV_ISSUER */
  readonly issuer?: string;
}

/** A JWT signed with the dev issuer's key: `{iss, aud, sub, scope?, iat, exp, jti}`. */
export async function mintDevToken(key: DevIssuerKey, claims: DevTokenClaims): Promise<string> {
  const scope = claims.scopes?.join(' ');
  return new SignJWT(scope ? { scope } : {})
    .setProtectedHeader({ alg: ALG, typ: 'JWT', kid: key.kid })
    .setIssuer(claims.issuer ?? DEV_ISSUER)
    .setAudience(claims.audience ?? DEV_AUDIENCE)
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(`${claims.ttlS ?? 3600}s`)
    .setJti(randomUUID())
    .sign(await importJWK(key.privateJwk, ALG));
}

export interface RunningDevIssuer extends RunningBackend {
  /** The `iss` of its tokens. */
  readonly issuer: string;
  /** Where its JWKS is served. */
  readonly jwksUrl: string;
}

/** Serves the issuer's JWKS over HTTP on loopback (`GET /.well-known/jwks.json`). */
export async function startDevIssuer(
  options: { port?: number; host?: string; keysDir?: string } = {},
): Promise<RunningDevIssuer> {
  const key = await loadOrCreateDevIssuerKey(options.keysDir);
  const body = JSON.stringify(key.jwks);
  const server = createServer((req, res) => {
    const found = req.method === 'GET' && req.url === DEV_JWKS_PATH;
    const payload = found ? body : JSON.stringify({ error: `no route for ${req.url}` });
    res.writeHead(found ? 200 : 404, {
      'content-type': found ? 'application/jwk-set+json' : 'application/json',
      'content-length': Buffer.byteLength(payload),
      'cache-control': 'max-age=300',
    });
    res.end(payload);
  });
  const running = await listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
  return { ...running, issuer: DEV_ISSUER, jwksUrl: `${running.url}${DEV_JWKS_PATH}` };
}
