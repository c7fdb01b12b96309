// The gateway's own signing keys for the internal JWTs it hands to backends (gateway-proof.ts):
// generated in memory, never written anywhere, rotated on a schedule, their public halves
// published as a JWKS. Everything here is synchronous node:crypto: jose's signing and export
// functions are async (WebCrypto), and a proof is minted inside a synchronous outbound call.
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

/**
 * Algorithms the gateway signs its internal tokens with. EdDSA (Ed25519, RFC 8037) by default:
 * small keys and signatures, deterministic; ES256 (P-256, RFC 7518 section 3.4) where a
 * backend's JOSE library lacks Ed25519.
 */
export type GatewayAlgorithm = 'EdDSA' | 'ES256';

/** A public key as the gateway publishes it: public members only, with kid, alg and use. */
export interface GatewayJwk {
  readonly kty: 'OKP' | 'EC';
  readonly crv: 'Ed25519' | 'P-256';
  readonly x: string;
  readonly y?: string;
  readonly kid: string;
  readonly alg: GatewayAlgorithm;
  readonly use: 'sig';
}

export interface GatewayJwks {
  readonly keys: readonly GatewayJwk[];
}

/** One key pair: its private half stays in this object. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: GatewayAlgorithm;
  readonly jwk: GatewayJwk;
  /** The compact JWT's first segment for this key: `{"alg","typ":"JWT","kid"}`, base64url. */
  readonly encodedHeader: string;
  /** The JWS signature of `data` (RFC 7515), raw bytes: for ES256 r||s, not DER. */
  sign(data: Buffer): Buffer;
}

export function generateSigningKey(alg: GatewayAlgorithm): SigningKey {
  const { privateKey, publicKey } =
    alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const exported = publicKey.export({ format: 'jwk' });
  const kid = thumbprint(exported);
  const jwk: GatewayJwk =
    alg === 'EdDSA'
      ? { kty: 'OKP', crv: 'Ed25519', x: String(exported.x), kid, alg, use: 'sig' }
      : {
          kty: 'EC',
          crv: 'P-256',
          x: String(exported.x),
          y: String(exported.y),
          kid,
          alg,
          use: 'sig',
        };
  return {
    kid,
    alg,
    jwk: Object.freeze(jwk),
    encodedHeader: Buffer.from(JSON.stringify({ alg, typ: 'JWT', kid })).toString('base64url'),
    sign: signer(alg, privateKey),
  };
}

function signer(alg: GatewayAlgorithm, privateKey: KeyObject): (data: Buffer) => Buffer {
  if (alg === 'EdDSA') return (data) => sign(null, data, privateKey);
  // JWS wants the fixed-width r||s form (RFC 7518 section 3.4), not OpenSSL's DER.
  const key = { key: privateKey, dsaEncoding: 'ieee-p1363' as const };
  return (data) => sign('sha256', data, key);
}

/**
 * The RFC 7638 JWK thumbprint: SHA-256 over the required public members in lexicographic
 * order, no whitespace. A kid derived from the key itself names it the same everywhere.
 */
function thumbprint(jwk: { kty?: string; crv?: string; x?: string; y?: string }): string {
  const members =
    jwk.kty === 'OKP'
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x }
      : { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y };
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url');
}

export interface KeyRingOptions {
  readonly algorithm: GatewayAlgorithm;
  /** How long one key signs before the next one takes over. */
  readonly rotateEveryMs: number;
  /** How long a retired key stays published, so tokens it signed still verify until they expire. */
  readonly graceMs: number;
  /** Wall-clock milliseconds since the epoch. */
  readonly now: () => number;
  /** Called with the new key after each rotation (the token cache drops what the old one signed). */
  readonly onRotate?: (key: SigningKey) => void;
}

/**
 * The keys one gateway process signs with: the current key, the next one, and retired ones
 * still within their grace period.
 *
 * The next key is published a whole rotation period before it signs anything. Backends cache a
 * JWKS (jose's `createRemoteJWKSet` keeps one for 10 minutes and refetches on an unknown kid at
 * most every 30 s), so a key that appeared only when it started signing would be refused by every
 * backend still holding the previous set; published early, it is in their cache already.
 *
 * Rotation is decided against the clock when a key is asked for, not by a timer: a process that
 * is idle keeps no timer, a test moves time by moving `now`, and the check costs one comparison.
 * After a long idle period the ring rotates once, not once per missed period, so the key that
 * takes over is always one that was published for a while.
 */
export class KeyRing {
  readonly #options: KeyRingOptions;
  #current: SigningKey;
  #next: SigningKey;
  #retired: { key: SigningKey; until: number }[] = [];
  #rotateAt: number;
  #jwks: GatewayJwks | undefined;

  constructor(options: KeyRingOptions) {
    this.#options = options;
    this.#current = generateSigningKey(options.algorithm);
    this.#next = generateSigningKey(options.algorithm);
    this.#rotateAt = options.now() + options.rotateEveryMs;
  }

  /** The key that signs now. */
  current(now = this.#options.now()): SigningKey {
    if (now >= this.#rotateAt) this.#rotate(now);
    return this.#current;
  }

  /** The public keys: next, current and retired ones within their grace period. */
  jwks(now = this.#options.now()): GatewayJwks {
    if (now >= this.#rotateAt) this.#rotate(now);
    const live = this.#retired.filter((r) => r.until > now);
    if (live.length !== this.#retired.length) {
      this.#retired = live;
      this.#jwks = undefined;
    }
    this.#jwks ??= Object.freeze({
      keys: Object.freeze([this.#current, this.#next, ...live.map((r) => r.key)].map((k) => k.jwk)),
    });
    return this.#jwks;
  }

  #rotate(now: number): void {
    this.#retired.push({ key: this.#current, until: now + this.#options.graceMs });
    this.#current = this.#next;
    this.#next = generateSigningKey(this.#options.algorithm);
    this.#rotateAt = now + this.#options.rotateEveryMs;
    this.#jwks = undefined;
    this.#options.onRotate?.(this.#current);
  }
}
