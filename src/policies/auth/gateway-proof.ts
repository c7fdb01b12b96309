// How a backend can tell that a call came from the gateway, and for whom: the value of the proof
// header (`auth.identity.headers.proof`) the outbound chain sets on every backend call, anonymous
// ones included. Two kinds, chosen by config:
//   jwt   GatewayTokens: a short-lived JWT signed with the gateway's own rotated key pair; backends
//         verify it with any JOSE library against the JWKS the gateway serves at
//         /.well-known/jwks.json. No secret is shared; a backend only needs the gateway's URL.
//   hmac  SharedSecretProof: an HMAC-SHA256 over a timestamp and the identity headers, with a
//         secret the gateway and its backends share. Cheaper, and no JWKS to fetch, but every
//         backend holding the secret could mint proofs too.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Identity } from '../../kernel/context.ts';
import type { IdentityHeaderNames, IdentityProof } from '../../kernel/outbound.ts';
import { KeyRing, type GatewayAlgorithm, type GatewayJwks } from './gateway-keys.ts';

export type { GatewayAlgorithm, GatewayJwk, GatewayJwks } from './gateway-keys.ts';

export interface GatewayTokensOptions {
  /** The tokens' `iss`: what backends check it against. */
  readonly issuer: string;
  /** The tokens' `aud`: the backends, as one name. */
  readonly audience: string;
  /** @default 'EdDSA' */
  readonly algorithm?: GatewayAlgorithm;
  /** Seconds from `iat` to `exp`. @default 60 */
  readonly lifetimeS?: number;
  /** How long one key signs before the next takes over. @default 3_600_000 (1 h) */
  readonly rotateEveryMs?: number;
  /**
   * How long a retired key stays in the JWKS. At least the token lifetime, so every token it
   * signed verifies until it expires. @default twice the lifetime
   */
  readonly graceMs?: number;
  /** Distinct identities whose token is kept for reuse; the oldest goes first. @default 4096 */
  readonly cacheSize?: number;
  /** Wall-clock milliseconds since the epoch (tests move it). @default Date.now */
  readonly now?: () => number;
}

interface CachedToken {
  readonly token: string;
  /** Epoch ms after which it is minted afresh: half its lifetime after `iat`. */
  readonly freshUntil: number;
}

/**
 * Mints the internal JWT (mode `jwt`): `{alg, typ: "JWT", kid}` over `{iss, aud, sub?, scope?,
 * client_id?, iat, exp}`, `sub`/`scope`/`client_id` being the verified identity's (absent for an
 * anonymous caller; `scope` space-separated as in RFC 8693 section 4.2, absent when empty).
 *
 * Minting a token costs 33-45 µs (Ed25519 or P-256 with node:crypto, measured on a 2-core EPYC;
 * jose's `SignJWT` costs 80-165 µs and is async, which a synchronous outbound call cannot await):
 * the whole auth budget per request. So a token is reused for every call made for the same
 * identity within half its lifetime: a backend always receives one with more than half its
 * lifetime left, and a cache hit costs under 1 µs (the key's JSON and a Map lookup). The token
 * depends only on the identity's claims, which are therefore the cache key; it carries no
 * per-call value (no `jti`) for that reason.
 */
export class GatewayTokens implements IdentityProof {
  readonly #issuer: string;
  readonly #audience: string;
  readonly #lifetimeS: number;
  readonly #cacheSize: number;
  readonly #now: () => number;
  readonly #ring: KeyRing;
  readonly #cache = new Map<string, CachedToken>();
  #closed = false;

  constructor(options: GatewayTokensOptions) {
    this.#issuer = options.issuer;
    this.#audience = options.audience;
    this.#lifetimeS = options.lifetimeS ?? 60;
    this.#cacheSize = options.cacheSize ?? 4096;
    this.#now = options.now ?? Date.now;
    const rotateEveryMs = options.rotateEveryMs ?? 3_600_000;
    const graceMs = options.graceMs ?? 2 * this.#lifetimeS * 1000;
    if (!Number.isInteger(this.#lifetimeS) || this.#lifetimeS < 1) {
      throw new RangeError(`lifetimeS must be a whole number of seconds, got ${this.#lifetimeS}`);
    }
    if (graceMs < this.#lifetimeS * 1000) {
      throw new RangeError(
        `graceMs (${graceMs}) must be at least the token lifetime (${this.#lifetimeS * 1000} ms): tokens signed by a retired key must verify until they expire`,
      );
    }
    if (!(rotateEveryMs > 0)) throw new RangeError(`rotateEveryMs must be positive`);
    this.#ring = new KeyRing({
      algorithm: options.algorithm ?? 'EdDSA',
      rotateEveryMs,
      graceMs,
      now: this.#now,
      // Tokens of the retired key stay valid, but new calls should carry the current one.
      onRotate: () => this.#cache.clear(),
    });
  }

  /**
   * `sent` is not read: the token carries the identity itself, and backends check the identity
   * headers against its claims.
   */
  proofFor(identity: Identity | undefined, _sent?: Readonly<Record<string, string>>): string {
    if (this.#closed) throw new Error('GatewayTokens is closed');
    const now = this.#now();
    const key = this.#ring.current(now);
    const scope = identity && identity.scopes.length > 0 ? identity.scopes.join(' ') : undefined;
    // JSON, not a joined string: no subject or scope can be crafted to collide with another's key.
    const cacheKey = identity ? JSON.stringify([identity.subject, scope, identity.clientId]) : '';
    const cached = this.#cache.get(cacheKey);
    if (cached && now < cached.freshUntil) return cached.token;

    const iat = Math.floor(now / 1000);
    const payload = JSON.stringify({
      iss: this.#issuer,
      aud: this.#audience,
      sub: identity?.subject,
      scope,
      client_id: identity?.clientId,
      iat,
      exp: iat + this.#lifetimeS,
    });
    const input = `${key.encodedHeader}.${Buffer.from(payload).toString('base64url')}`;
    const token = `${input}.${key.sign(Buffer.from(input)).toString('base64url')}`;

    if (cached) this.#cache.delete(cacheKey);
    else if (this.#cache.size >= this.#cacheSize) {
      // Map keeps insertion order: the first key is the oldest entry.
      this.#cache.delete(this.#cache.keys().next().value as string);
    }
    this.#cache.set(cacheKey, { token, freshUntil: iat * 1000 + this.#lifetimeS * 500 });
    return token;
  }

  /**
   * The public keys backends verify with, for `/.well-known/jwks.json` (RFC 7517 section 5): the
   * signing key, the next one (published ahead of use) and retired ones within their grace
   * period. Public members only, each with `kid`, `alg` and `use: "sig"`. The same frozen object
   * until the set changes.
   */
  jwks(): GatewayJwks {
    return this.#ring.jwks();
  }

  /** Drops the cached tokens; further proofs throw. No timers to stop: rotation is clock-driven. */
  close(): void {
    this.#closed = true;
    this.#cache.clear();
  }
}

/** Identity header values, by role: what an HMAC proof covers. */
export interface IdentityValues {
  readonly subject?: string | undefined;
  readonly scopes?: string | undefined;
  readonly clientId?: string | undefined;
}

export interface SharedSecretProofOptions {
  /** The shared secret: at least 32 bytes (a string is taken as UTF-8). */
  readonly secret: string | Uint8Array;
  /** The identity header names, to read the values sent from the header map. */
  readonly names: Pick<IdentityHeaderNames, 'subject' | 'scopes' | 'clientId'>;
  /** Wall-clock milliseconds since the epoch (tests move it). @default Date.now */
  readonly now?: () => number;
}

const MIN_SECRET_BYTES = 32;

function secretBytes(secret: string | Uint8Array): Buffer {
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (bytes.length < MIN_SECRET_BYTES) {
    throw new RangeError(
      `the shared proof secret must be at least ${MIN_SECRET_BYTES} bytes, got ${bytes.length}`,
    );
  }
  return bytes;
}

/**
 * The string an HMAC proof signs, exactly:
 *
 *     <t> "\n" <subject> "\n" <scopes> "\n" <client id>
 *
 * `t` is the Unix time in whole seconds, in decimal; the three values are the identity headers
 * exactly as sent (subject, scopes, client id: always this order, whatever the header names), an
 * absent header as the empty string. Header values cannot contain a newline (RFC 9110 section
 * 5.5), so the fields cannot run into each other. For an anonymous call this is `<t>\n\n\n`.
 */
export function sharedSecretSignedString(t: number, sent: IdentityValues): string {
  return `${t}\n${sent.subject ?? ''}\n${sent.scopes ?? ''}\n${sent.clientId ?? ''}`;
}

/**
 * The proof header's value in mode `hmac`: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
 * sharedSecretSignedString(t, sent))>`. About 2 µs per call, so nothing is cached. The `v1=`
 * label leaves room for another scheme beside it later, as Stripe's webhook signatures do.
 */
export class SharedSecretProof implements IdentityProof {
  readonly #secret: Buffer;
  readonly #names: SharedSecretProofOptions['names'];
  readonly #now: () => number;

  constructor(options: SharedSecretProofOptions) {
    this.#secret = secretBytes(options.secret);
    this.#names = options.names;
    this.#now = options.now ?? Date.now;
  }

  proofFor(_identity: Identity | undefined, sent: Readonly<Record<string, string>>): string {
    const t = Math.floor(this.#now() / 1000);
    const signed = sharedSecretSignedString(t, {
      subject: sent[this.#names.subject],
      scopes: sent[this.#names.scopes],
      clientId: sent[this.#names.clientId],
    });
    return `t=${t},v1=${createHmac('sha256', this.#secret).update(signed).digest('hex')}`;
  }
}

export type ProofCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'malformed' | 'mismatch' | 'stale' };

const HMAC_PROOF = /^t=(\d{1,12}),v1=([0-9a-f]{64})$/;

/**
 * A backend's check of an HMAC proof: `value` is the proof header, `sent` the identity headers
 * that came with it. The signature is compared in constant time and checked before the
 * timestamp, so `stale` is only ever said of a proof the gateway really made.
 */
export function verifySharedSecretProof(
  value: string | undefined,
  sent: IdentityValues,
  secret: string | Uint8Array,
  options: {
    /** How far the timestamp may be from the backend's clock, either way. @default 30 */
    maxSkewS?: number;
    /** Wall-clock milliseconds since the epoch. @default Date.now */
    now?: () => number;
  } = {},
): ProofCheck {
  const match = HMAC_PROOF.exec(value ?? '');
  if (!match) return { ok: false, reason: 'malformed' };
  const t = Number(match[1]);
  const expected = createHmac('sha256', secretBytes(secret))
    .update(sharedSecretSignedString(t, sent))
    .digest();
  if (!timingSafeEqual(expected, Buffer.from(match[2] as string, 'hex'))) {
    return { ok: false, reason: 'mismatch' };
  }
  const skew = Math.abs((options.now ?? Date.now)() / 1000 - t);
  if (skew > (options.maxSkewS ?? 30)) return { ok: false, reason: 'stale' };
  return { ok: true };
}
