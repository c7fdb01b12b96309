import { errors, jwtVerify, type CryptoKey, type JWTPayload, type JWTVerifyOptions } from 'jose';
import type { Identity } from '../../kernel/context.ts';
import { UnreachableCaseError } from '../../kernel/errors.ts';
import { AuthUnavailableError, CredentialError } from './credential-errors.ts';
import {
  ASYMMETRIC_ALGORITHMS,
  HMAC_ALGORITHMS,
  createLocalJwks,
  createPemKey,
  createSharedSecret,
  hmacAlgorithmsFor,
  type JwksPool,
  type RemoteJwks,
  type RemoteJwksOptions,
  type StaticKeys,
  type VerificationKeys,
} from './jwks.ts';
import {
  type VerifiedCacheOptions,
  type VerifiedToken,
  VerifiedTokenCache,
} from './verified-cache.ts';

/**
 * JWT bearer tokens verified with jose, after RFC 8725 (JWT Best Current Practices):
 * https://www.rfc-editor.org/rfc/rfc8725
 *
 * In order, for a token not already verified:
 * 1. Structure, before any crypto: at most 8 KiB, three base64url segments, a header and a
 *    payload that are JSON objects, a string `alg`.
 * 2. The issuer, chosen by the payload's unverified `iss` among those configured. It only picks
 *    which configuration applies: jose checks `iss` again once the signature holds.
 * 3. The algorithm against that issuer's allowlist (section 3.1): asymmetric ones by default,
 *    HS256/384/512 only for an issuer configured with a shared secret, which accepts nothing
 *    else; `none`, in any spelling, is on no list. A token cannot move an issuer from public keys
 *    to HMAC, so a public key never serves as an HMAC secret (key confusion, section 2.1).
 * 4. `typ`, when present: `JWT` or `at+jwt` (RFC 9068), with or without `application/`, any
 *    case. Other types are other kinds of tokens (section 3.11).
 * 5. The key, only among the issuer's configured or fetched keys, by `kid`, `alg` and key type.
 *    `jku`, `x5u`, `x5c` and `jwk` in the header are never read (section 3.10).
 * 6. jose's `jwtVerify`: the signature, then `iss`, `aud`, `exp` (required unless configured
 *    otherwise: jose accepts a token without it), `nbf`, the age from `iat`, all with the
 *    issuer's clock tolerance.
 * 7. An identity: the subject claim is required.
 *
 * Verified tokens are cached (verified-cache.ts); every hit re-checks the time claims.
 *
 * `verify` throws only `CredentialError` (a presented token that is not acceptable, its reason
 * a short stable phrase for the log) or `AuthUnavailableError` (no keys to check it with).
 */

/** One trusted token issuer. */
export interface JwtIssuerOptions {
  /** The `iss` its tokens carry, compared exactly. */
  readonly issuer: string;
  /** Accepted `aud` values, any one of which must appear; empty: the audience is not checked. */
  readonly audiences: readonly string[];
  readonly keys: KeySource;
  /**
   * Accepted `alg` values. Default: every asymmetric algorithm for public keys, and the HMAC
   * algorithms the secret is long enough for. HMAC and asymmetric never mix.
   */
  readonly algorithms?: readonly string[];
  /**
   * Seconds of clock skew allowed on `exp`, `nbf` and `iat`.
   * @default 0
   */
  readonly clockToleranceS?: number;
  /**
   * Refuse tokens without `exp`.
   * @default true
   */
  readonly requireExp?: boolean;
  /** Largest age from `iat`, in seconds; `iat` is then required. */
  readonly maxAgeS?: number;
  /** Which claims hold what the identity needs. */
  readonly claims?: {
    /** @default 'sub' */
    readonly subject?: string;
    /** Tried in order; the first present wins: a space-separated string or an array. @default ['scope', 'scp'] */
    readonly scopes?: readonly string[];
    /** Tried in order; the first non-empty string wins. @default ['client_id', 'azp'] */
    readonly clientId?: readonly string[];
  };
}

/** Where an issuer's keys come from. */
export type KeySource =
  | ({ readonly kind: 'remote' } & RemoteJwksOptions)
  /** A JWKS document (parsed JSON) the configuration holds. */
  | { readonly kind: 'jwks'; readonly jwks: unknown }
  /** An SPKI public key or X.509 certificate in PEM, for one asymmetric algorithm. */
  | { readonly kind: 'pem'; readonly pem: string; readonly alg: string }
  /** A shared secret for HS256/384/512 (at least 32 bytes). */
  | { readonly kind: 'secret'; readonly secret: Uint8Array };

export interface JwtVerifierOptions {
  /** Remote JWKS shared across verifiers (and across reloads). */
  readonly pool: JwksPool;
  /** Seconds since the epoch; tests pin it. */
  readonly now?: () => number;
  /** The verified-token cache's bounds, or false for none (measurements). */
  readonly cache?: VerifiedCacheOptions | false;
}

/**
 * Longest token read at all. Real access tokens are one or two kilobytes; bounding the input
 * bounds what an anonymous caller can make the gateway decode and parse before any check.
 */
export const MAX_TOKEN_LENGTH = 8 * 1024;

const BASE64URL = /^[A-Za-z0-9_-]*$/;

interface Issuer {
  readonly issuer: string;
  readonly keys: VerificationKeys;
  readonly remote: RemoteJwks | undefined;
  readonly local: StaticKeys | undefined;
  readonly algorithms: ReadonlySet<string>;
  /** jose's options, less `currentDate`, which each call adds. */
  readonly jose: JWTVerifyOptions;
  readonly toleranceS: number;
  readonly maxAgeS: number | undefined;
  readonly subjectClaim: string;
  readonly scopeClaims: readonly string[];
  readonly clientIdClaims: readonly string[];
}

export class JwtVerifier {
  private readonly issuers: ReadonlyMap<string, Issuer>;
  private readonly pool: JwksPool;
  private readonly now: () => number;
  private readonly cache: VerifiedTokenCache | undefined;
  private closed = false;

  constructor(issuers: readonly JwtIssuerOptions[], options: JwtVerifierOptions) {
    this.pool = options.pool;
    this.now = options.now ?? (() => Date.now() / 1000);
    this.cache = options.cache === false ? undefined : new VerifiedTokenCache(options.cache);
    const built = new Map<string, Issuer>();
    try {
      for (const config of issuers) {
        if (built.has(config.issuer))
          throw new Error(`jwt issuer "${config.issuer}" is configured twice`);
        built.set(config.issuer, buildIssuer(config, this.pool));
      }
    } catch (error) {
      for (const issuer of built.values()) if (issuer.remote) this.pool.release(issuer.remote);
      throw error;
    }
    this.issuers = built;
  }

  /**
   * Fetches every remote JWKS not fetched yet (a failure is reported through the pool's
   * `onEvent` and retried when traffic needs keys; it does not reject) and imports the
   * configured keys (unusable ones, such as a PEM that does not parse, reject: a config error).
   */
  async start(): Promise<void> {
    await Promise.all(
      [...this.issuers.values()].map(async (issuer) => {
        if (issuer.remote) return issuer.remote.warm();
        try {
          await issuer.local?.ready();
        } catch (error) {
          throw new Error(`jwt issuer "${issuer.issuer}": ${(error as Error).message}`, {
            cause: error,
          });
        }
      }),
    );
  }

  /**
   * The identity a token proves. Rejects with `CredentialError` or `AuthUnavailableError` only.
   * Not `async`: a cache hit answers without entering the verification path.
   */
  verify(token: string): Promise<Identity> {
    const nowS = Math.floor(this.now());
    const hit = typeof token === 'string' ? this.cache?.get(token, nowS) : undefined;
    if (hit !== undefined) {
      const reason = timeClaimsFailure(hit, nowS);
      if (reason === undefined) return Promise.resolve(hit.identity);
      this.cache!.delete(token);
      return Promise.reject(new CredentialError(reason));
    }
    return this.verifyAfresh(token, nowS);
  }

  /** Drops this verifier's hold on shared remote key sets, and its cache. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const issuer of this.issuers.values()) if (issuer.remote) this.pool.release(issuer.remote);
    this.cache?.clear();
  }

  private async verifyAfresh(token: string, nowS: number): Promise<Identity> {
    try {
      const { header, payload } = decodeUnverified(token);
      const iss = payload.iss;
      const issuer = typeof iss === 'string' ? this.issuers.get(iss) : undefined;
      if (issuer === undefined) throw new CredentialError('unknown issuer');
      const { alg, kid, typ } = header;
      if (typeof alg !== 'string') throw malformed();
      if (!issuer.algorithms.has(alg)) throw new CredentialError('algorithm not allowed');
      if (!acceptedType(typ)) throw new CredentialError('wrong type');
      if (kid !== undefined && typeof kid !== 'string') throw malformed();

      const selection = await issuer.keys.select(alg, kid);
      if (selection.keys.length === 0) throw new CredentialError('unknown key');
      const verified = await verifyWithAny(token, selection.keys, {
        ...issuer.jose,
        currentDate: new Date(nowS * 1000),
      });
      const identity = identify(issuer, verified);
      this.remember(token, issuer, selection.generation, verified, identity, nowS);
      return identity;
    } catch (error) {
      throw asCredentialFailure(error);
    }
  }

  private remember(
    token: string,
    issuer: Issuer,
    generation: number,
    payload: JWTPayload,
    identity: Identity,
    nowS: number,
  ): void {
    if (!this.cache) return;
    this.cache.set(token, {
      identity,
      keys: issuer.keys,
      generation,
      // No later than maxTtlS; `exp` ends it sooner, by the re-check every hit makes.
      until: nowS + this.cache.maxTtlS,
      exp: typeof payload.exp === 'number' ? payload.exp : undefined,
      nbf: typeof payload.nbf === 'number' ? payload.nbf : undefined,
      iat: typeof payload.iat === 'number' ? payload.iat : undefined,
      toleranceS: issuer.toleranceS,
      maxAgeS: issuer.maxAgeS,
    });
  }
}

function buildIssuer(config: JwtIssuerOptions, pool: JwksPool): Issuer {
  const name = config.issuer;
  const fail = (message: string) => new Error(`jwt issuer "${name}": ${message}`);
  if (typeof name !== 'string' || name === '')
    throw new Error('a jwt issuer needs a non-empty "issuer"');
  if (
    !Array.isArray(config.audiences) ||
    config.audiences.some((a) => typeof a !== 'string' || a === '')
  )
    throw fail('audiences must be a list of non-empty strings');
  const toleranceS = config.clockToleranceS ?? 0;
  if (!(Number.isFinite(toleranceS) && toleranceS >= 0)) throw fail('clockToleranceS must be >= 0');
  if (config.maxAgeS !== undefined && !(Number.isFinite(config.maxAgeS) && config.maxAgeS > 0))
    throw fail('maxAgeS must be > 0');

  const source = config.keys;
  let keys: VerificationKeys;
  let remote: RemoteJwks | undefined;
  let local: StaticKeys | undefined;
  let family: readonly string[];
  let defaults: readonly string[];
  try {
    switch (source.kind) {
      case 'remote':
        keys = remote = pool.get(source);
        family = defaults = ASYMMETRIC_ALGORITHMS;
        break;
      case 'jwks':
        keys = local = createLocalJwks(source.jwks);
        family = defaults = ASYMMETRIC_ALGORITHMS;
        break;
      case 'pem':
        keys = local = createPemKey(source.pem, source.alg);
        family = defaults = [source.alg];
        break;
      case 'secret':
        keys = local = createSharedSecret(source.secret);
        family = defaults = hmacAlgorithmsFor(source.secret);
        break;
      default:
        throw new UnreachableCaseError(source);
    }
  } catch (error) {
    throw fail((error as Error).message);
  }
  const algorithms = config.algorithms ?? defaults;
  const refused = algorithms.filter((alg) => !family.includes(alg));
  if (refused.length > 0 || algorithms.length === 0) {
    if (remote) pool.release(remote);
    const allowed = source.kind === 'secret' ? Object.keys(HMAC_ALGORITHMS) : family;
    throw fail(
      `algorithms ${JSON.stringify(refused)} cannot be used with ${source.kind} keys (allowed: ${allowed.join(', ')}${source.kind === 'secret' ? ', as long as the secret allows' : ''})`,
    );
  }

  const jose: JWTVerifyOptions = {
    algorithms: [...algorithms],
    issuer: name,
    clockTolerance: toleranceS,
    requiredClaims: config.requireExp === false ? [] : ['exp'],
  };
  if (config.audiences.length > 0) jose.audience = [...config.audiences];
  if (config.maxAgeS !== undefined) jose.maxTokenAge = config.maxAgeS;
  return {
    issuer: name,
    keys,
    remote,
    local,
    algorithms: new Set(algorithms),
    jose,
    toleranceS,
    maxAgeS: config.maxAgeS,
    subjectClaim: config.claims?.subject ?? 'sub',
    scopeClaims: config.claims?.scopes ?? ['scope', 'scp'],
    clientIdClaims: config.claims?.clientId ?? ['client_id', 'azp'],
  };
}

const malformed = () => new CredentialError('malformed', 'invalid_request');

/**
 * The header and payload, unverified: only to choose the issuer and algorithm, and to refuse
 * what is not a JWT before any crypto. jose decodes the same bytes again when it verifies, with
 * the same JSON.parse, so what it checks is what was chosen here.
 */
function decodeUnverified(token: string): {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
} {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) throw malformed();
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first <= 0 || second <= first + 1 || token.indexOf('.', second + 1) !== -1) throw malformed();
  const header = token.slice(0, first);
  const payload = token.slice(first + 1, second);
  if (
    !BASE64URL.test(header) ||
    !BASE64URL.test(payload) ||
    !BASE64URL.test(token.slice(second + 1))
  )
    throw malformed();
  return { header: decodeJsonSegment(header), payload: decodeJsonSegment(payload) };
}

function decodeJsonSegment(segment: string): Record<string, unknown> {
  // Four base64 characters carry three bytes; a remainder of one carries none (RFC 4648 4).
  if (segment.length % 4 === 1) throw malformed();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw malformed();
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed();
  return value as Record<string, unknown>;
}

/** RFC 7515 4.1.9 and RFC 9068 2.1: `typ` compared case-insensitively, `application/` optional. */
function acceptedType(typ: unknown): boolean {
  if (typ === undefined) return true;
  if (typeof typ !== 'string') return false;
  const lower = typ.toLowerCase();
  const bare = lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
  return bare === 'jwt' || bare === 'at+jwt';
}

/**
 * Tries each candidate key: several match when a token names no kid and the issuer publishes
 * several keys of its type. A signature that fails moves to the next key; anything else (an
 * expired token) is the answer.
 */
async function verifyWithAny(
  token: string,
  keys: readonly CryptoKey[],
  options: JWTVerifyOptions,
): Promise<JWTPayload> {
  for (let i = 0; ; i++) {
    try {
      return (await jwtVerify(token, keys[i]!, options)).payload;
    } catch (error) {
      if (i + 1 < keys.length && error instanceof errors.JWSSignatureVerificationFailed) continue;
      throw error;
    }
  }
}

function identify(issuer: Issuer, payload: JWTPayload): Identity {
  const subject = payload[issuer.subjectClaim];
  if (typeof subject !== 'string' || subject === '') throw new CredentialError('missing subject');
  let scopes: string[] = [];
  for (const claim of issuer.scopeClaims) {
    const value = payload[claim];
    if (value === undefined) continue;
    // RFC 6749 3.3 (and RFC 9068 2.2.3): space-delimited; some providers send an array (scp).
    const listed = typeof value === 'string' ? value.split(' ') : Array.isArray(value) ? value : [];
    scopes = [...new Set(listed.filter((s): s is string => typeof s === 'string' && s !== ''))];
    break;
  }
  let clientId: string | undefined;
  for (const claim of issuer.clientIdClaims) {
    const value = payload[claim];
    if (typeof value === 'string' && value !== '') {
      clientId = value;
      break;
    }
  }
  const identity: Identity = {
    kind: 'jwt',
    subject,
    issuer: issuer.issuer,
    scopes,
    claims: payload,
    ...(clientId !== undefined ? { clientId } : {}),
    ...(typeof payload.exp === 'number' ? { expiresAt: payload.exp } : {}),
  };
  // Cached and shared by every request presenting the token: nobody may change it.
  return deepFreeze(identity);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

/**
 * What jose would say of a cached token's time claims now, with the same rules
 * (jose's lib/jwt_claims_set.js): expired when `exp <= now - tolerance`, not yet valid when
 * `nbf > now + tolerance`, too old when `now - iat - tolerance > maxAge`.
 */
function timeClaimsFailure(entry: VerifiedToken, nowS: number): string | undefined {
  const tolerance = entry.toleranceS;
  if (entry.exp !== undefined && entry.exp <= nowS - tolerance) return 'expired';
  if (entry.nbf !== undefined && entry.nbf > nowS + tolerance) return 'not yet valid';
  if (entry.maxAgeS !== undefined && entry.iat !== undefined) {
    const age = nowS - entry.iat;
    if (age - tolerance > entry.maxAgeS) return 'too old';
    if (age < -tolerance) return 'issued in the future';
  }
  return undefined;
}

/** Claim-check failures by claim, as jose reports them (`reason` is `check_failed`). */
const CHECK_FAILED: Readonly<Record<string, string>> = {
  nbf: 'not yet valid',
  iat: 'issued in the future',
  aud: 'wrong audience',
  iss: 'wrong issuer',
  typ: 'wrong type',
  sub: 'wrong subject',
};

/** Claims jose requires that are absent (`reason` is `missing`). */
const MISSING: Readonly<Record<string, string>> = {
  exp: 'missing exp',
  iat: 'missing iat',
  aud: 'wrong audience',
  iss: 'wrong issuer',
  sub: 'missing subject',
};

/**
 * Every failure as one of the two errors `verify` may throw. jose's errors become short stable
 * reasons; anything else (a TypeError from a key jose finds unfit) is still the token's
 * rejection, never a 500.
 */
function asCredentialFailure(error: unknown): CredentialError | AuthUnavailableError {
  if (error instanceof CredentialError || error instanceof AuthUnavailableError) return error;
  if (error instanceof errors.JWTExpired)
    return new CredentialError(error.claim === 'iat' ? 'too old' : 'expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    const { claim, reason } = error;
    if (reason === 'missing') return new CredentialError(MISSING[claim] ?? 'missing claim');
    if (reason === 'invalid')
      return new CredentialError(
        `invalid ${claim === 'exp' || claim === 'nbf' || claim === 'iat' ? claim : 'claim'}`,
      );
    return new CredentialError(CHECK_FAILED[claim] ?? 'claim check failed');
  }
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return new CredentialError('bad signature');
  if (error instanceof errors.JOSEAlgNotAllowed)
    return new CredentialError('algorithm not allowed');
  if (error instanceof errors.JOSENotSupported) return new CredentialError('unsupported');
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return malformed();
  return new CredentialError('invalid token');
}
