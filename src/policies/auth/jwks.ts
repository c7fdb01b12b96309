import { importJWK, importSPKI, importX509, type CryptoKey } from 'jose';
import { request, type Dispatcher } from 'undici';
import { type Clock, systemClock } from '../../kernel/clock.ts';
import { AuthUnavailableError } from './credential-errors.ts';
import { ASYMMETRIC_ALGORITHMS as CONFIGURABLE_ASYMMETRIC } from '../../config/auth.ts';

/**
 * Where the keys that verify JWT signatures come from: a JWKS fetched over HTTP and kept fresh
 * (`RemoteJwks`, shared per URL by a `JwksPool`), or keys given in the configuration (a JWKS
 * document, a PEM public key or certificate, a shared secret for HS256/384/512).
 *
 * Every source answers one question, `select(alg, kid)`: which of the keys it was configured
 * with may verify a token with this header. Nothing a token says can add a key: its `jku`,
 * `x5u`, `x5c` and `jwk` parameters never reach this file, and `kid` is only compared with the
 * kids of keys already held (RFC 8725 section 3.10: never fetch or trust what a token points at).
 * Keys are imported once, when fetched or configured, as Web Crypto keys bound to one algorithm
 * each, so verification never imports anything.
 */

/**
 * Public-key signature algorithms, the default allowlist (RFC 8725 section 3.1: accept only the
 * algorithms you expect; HMAC only when a secret is configured, `none` never). `Ed25519` is RFC
 * 9864's fully specified name for what `EdDSA` means with an Ed25519 key.
 */
export const ASYMMETRIC_ALGORITHMS: readonly string[] = CONFIGURABLE_ASYMMETRIC;

/** HMAC algorithms with the least secret length each allows (RFC 7518 section 3.2), in bytes. */
export const HMAC_ALGORITHMS: Readonly<Record<string, number>> = {
  HS256: 32,
  HS384: 48,
  HS512: 64,
};

/** Which algorithms a public JWK may verify, by `kty` (and `crv`): RFC 7518 3.1, RFC 8037. */
const ALGORITHMS_OF_KEY: Readonly<Record<string, readonly string[]>> = {
  RSA: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
  'EC:P-256': ['ES256'],
  'EC:P-384': ['ES384'],
  'EC:P-521': ['ES512'],
  'OKP:Ed25519': ['EdDSA', 'Ed25519'],
};

/** The members of a public JWK that make up the key, by `kty`; everything else is dropped. */
const KEY_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  RSA: ['n', 'e'],
  EC: ['crv', 'x', 'y'],
  OKP: ['crv', 'x'],
};

/**
 * Most keys kept from one JWKS. Every kept key is imported once per algorithm when the set is
 * fetched, so an identity provider that publishes thousands of keys (or a JWKS URL that points
 * somewhere unexpected) must not cost seconds of CPU on every refresh. Real sets hold a handful.
 */
const MAX_KEYS = 50;

/** What a source answers for one token: candidate keys, and the key set's generation they came from. */
export interface KeySelection {
  readonly keys: readonly CryptoKey[];
  /** The `generation` the keys belong to: a verified-token cache entry records it. */
  readonly generation: number;
}

/** A source of verification keys, remote or configured. */
export interface VerificationKeys {
  /** True for a shared secret: it verifies HS256/384/512 only, and nothing else does. */
  readonly symmetric: boolean;
  /**
   * Moves whenever the set of keys changes (a refetch that brought different keys). Whatever was
   * verified under an older generation must be verified again.
   */
  readonly generation: number;
  /**
   * The keys, among those configured or fetched, that may verify a token signed with `alg` and
   * naming `kid` (any key of the right type when the token names none). Empty when none match.
   * Throws `AuthUnavailableError` when there are no keys at all to choose from.
   */
  select(alg: string, kid: string | undefined): Promise<KeySelection>;
}

// ---------------------------------------------------------------------------------------------
// Key rings: an immutable set of imported keys

interface RingKey {
  readonly kid: string | undefined;
  /** One Web Crypto key per algorithm this key may verify. */
  readonly byAlg: ReadonlyMap<string, CryptoKey>;
}

/** Keys imported from one JWKS document, looked up by kid. */
class KeyRing {
  readonly size: number;
  /** Equal for two rings holding the same keys: a refetch that changed nothing keeps the generation. */
  readonly fingerprint: string;
  private readonly all: readonly RingKey[];
  private readonly byKid: ReadonlyMap<string, readonly RingKey[]>;

  constructor(keys: readonly RingKey[], fingerprint: string) {
    this.all = keys;
    this.size = keys.length;
    this.fingerprint = fingerprint;
    const byKid = new Map<string, RingKey[]>();
    for (const key of keys) {
      if (key.kid === undefined) continue;
      const list = byKid.get(key.kid);
      if (list) list.push(key);
      else byKid.set(key.kid, [key]);
    }
    this.byKid = byKid;
  }

  /** Keys named `kid` (or all, when the token names none) that may verify `alg`. */
  select(alg: string, kid: string | undefined): CryptoKey[] {
    const found: CryptoKey[] = [];
    const pool = kid === undefined ? this.all : (this.byKid.get(kid) ?? []);
    for (const key of pool) {
      const imported = key.byAlg.get(alg);
      if (imported) found.push(imported);
    }
    return found;
  }
}

/**
 * Imports the usable public signature keys of a JWKS document. Entries that are not usable are
 * skipped, not fatal, as jose's own local sets do: a key for encryption (`use: "enc"`, `key_ops`
 * without `verify`), a symmetric or private key (a JWKS that leaks `d` or carries `oct` keys
 * is misconfigured; its public part is not trusted either), a key type or curve with no JWS
 * algorithm here, an `alg` that does not fit the key, RSA under 2048 bits (RFC 7518 3.3), or
 * anything the Web Crypto import refuses.
 */
async function importJwks(document: unknown): Promise<KeyRing> {
  const entries = (document as { keys?: unknown } | null)?.keys;
  if (typeof document !== 'object' || document === null || !Array.isArray(entries))
    throw new Error('not a JWKS: no "keys" array');
  const keys: RingKey[] = [];
  const prints: string[] = [];
  for (const entry of entries) {
    if (keys.length === MAX_KEYS) break;
    const key = await importJwk(entry);
    if (key) {
      keys.push(key.ring);
      prints.push(key.print);
    }
  }
  return new KeyRing(keys, prints.join('\n'));
}

async function importJwk(entry: unknown): Promise<{ ring: RingKey; print: string } | undefined> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return undefined;
  const jwk = entry as Record<string, unknown>;
  const { kty, kid, alg, use, key_ops: keyOps } = jwk;
  if (typeof kty !== 'string' || !Object.hasOwn(KEY_MEMBERS, kty)) return undefined;
  if (kid !== undefined && typeof kid !== 'string') return undefined;
  if (use !== undefined && use !== 'sig') return undefined;
  if (keyOps !== undefined && !(Array.isArray(keyOps) && keyOps.includes('verify')))
    return undefined;
  if (jwk.d !== undefined) return undefined;
  const members = KEY_MEMBERS[kty]!;
  const publicJwk: Record<string, string> = { kty };
  for (const member of members) {
    const value = jwk[member];
    if (typeof value !== 'string' || value === '') return undefined;
    publicJwk[member] = value;
  }
  const possible = ALGORITHMS_OF_KEY[kty === 'RSA' ? kty : `${kty}:${publicJwk.crv}`];
  if (!possible) return undefined;
  let algorithms: readonly string[];
  if (alg === undefined) algorithms = possible;
  else if (typeof alg === 'string' && possible.includes(alg))
    // EdDSA and Ed25519 name one algorithm for an Ed25519 key (RFC 9864 section 2).
    algorithms = kty === 'OKP' ? possible : [alg];
  else return undefined;
  const byAlg = new Map<string, CryptoKey>();
  try {
    for (const algorithm of algorithms) {
      const key = (await importJWK(publicJwk, algorithm)) as CryptoKey;
      if (kty === 'RSA' && !(modulusLength(key) >= 2048)) return undefined;
      byAlg.set(algorithm, key);
    }
  } catch {
    return undefined;
  }
  const print = JSON.stringify([kid ?? null, ...algorithms, ...members.map((m) => publicJwk[m])]);
  return { ring: { kid, byAlg }, print };
}

function modulusLength(key: CryptoKey): number {
  return (key.algorithm as { modulusLength?: number }).modulusLength ?? 0;
}

// ---------------------------------------------------------------------------------------------
// Configured keys: a JWKS document, a PEM, a shared secret

/** Keys known from the configuration: imported once, never refetched. */
export class StaticKeys implements VerificationKeys {
  readonly symmetric: boolean;
  readonly generation = 0;
  private readonly imported: Promise<(alg: string, kid: string | undefined) => CryptoKey[]>;

  constructor(
    symmetric: boolean,
    load: () => Promise<(alg: string, kid: string | undefined) => CryptoKey[]>,
  ) {
    this.symmetric = symmetric;
    this.imported = load();
    // Surfaced by ready() and by select(); never an unhandled rejection meanwhile.
    this.imported.catch(() => undefined);
  }

  /** Resolves once the keys are imported; rejects when the configured keys are unusable. */
  async ready(): Promise<void> {
    await this.imported;
  }

  async select(alg: string, kid: string | undefined): Promise<KeySelection> {
    let select: (alg: string, kid: string | undefined) => CryptoKey[];
    try {
      select = await this.imported;
    } catch (error) {
      throw new AuthUnavailableError('configured keys unusable', { cause: error });
    }
    return { keys: select(alg, kid), generation: 0 };
  }
}

/**
 * Keys from a JWKS document the configuration holds (the config layer reads the file and hands
 * over the parsed object). Unusable entries are skipped; a document with none usable is refused.
 */
export function createLocalJwks(jwks: unknown): StaticKeys {
  return new StaticKeys(false, async () => {
    const ring = await importJwks(jwks);
    if (ring.size === 0) throw new Error('the JWKS has no usable public signature key');
    return (alg, kid) => ring.select(alg, kid);
  });
}

/**
 * One public key in PEM, as an SPKI public key (`BEGIN PUBLIC KEY`) or an X.509 certificate
 * (`BEGIN CERTIFICATE`), for one asymmetric algorithm. It has no kid, so a token's kid plays no
 * part: the one key configured is the only candidate.
 */
export function createPemKey(pem: string, alg: string): StaticKeys {
  if (!ASYMMETRIC_ALGORITHMS.includes(alg))
    throw new Error(
      `a PEM key verifies an asymmetric algorithm (${ASYMMETRIC_ALGORITHMS.join(', ')}), not "${alg}"`,
    );
  return new StaticKeys(false, async () => {
    const text = pem.trim();
    const key = text.startsWith('-----BEGIN CERTIFICATE-----')
      ? await importX509(text, alg)
      : await importSPKI(text, alg);
    if (alg.startsWith('RS') || alg.startsWith('PS'))
      if (!(modulusLength(key) >= 2048)) throw new Error('RSA keys must have at least 2048 bits');
    return (tokenAlg) => (tokenAlg === alg ? [key] : []);
  });
}

/**
 * A shared secret for HS256/384/512, used only for the HMAC algorithms its length allows (RFC
 * 7518 section 3.2: at least the hash size). It never verifies an asymmetric algorithm, and no
 * public key ever becomes an HMAC secret (the key-confusion attack, RFC 8725 section 2.1).
 */
export function createSharedSecret(secret: Uint8Array): StaticKeys {
  const algorithms = hmacAlgorithmsFor(secret);
  if (algorithms.length === 0)
    throw new Error(`a shared secret must be at least ${HMAC_ALGORITHMS.HS256} bytes long`);
  const bytes = new Uint8Array(secret);
  return new StaticKeys(true, async () => {
    const byAlg = new Map<string, CryptoKey>();
    for (const alg of algorithms)
      byAlg.set(
        alg,
        await crypto.subtle.importKey(
          'raw',
          bytes,
          { name: 'HMAC', hash: `SHA-${alg.slice(2)}` },
          false,
          ['verify'],
        ),
      );
    return (alg) => {
      const key = byAlg.get(alg);
      return key ? [key] : [];
    };
  });
}

/** The HMAC algorithms a secret of this length may serve. */
export function hmacAlgorithmsFor(secret: Uint8Array): string[] {
  return Object.entries(HMAC_ALGORITHMS)
    .filter(([, least]) => secret.byteLength >= least)
    .map(([alg]) => alg);
}

// ---------------------------------------------------------------------------------------------
// Remote JWKS

/** One JWKS URL and how it is kept fresh. */
export interface RemoteJwksOptions {
  /** The identity provider's JWKS endpoint (`jwks_uri` of its metadata). */
  readonly url: string;
  /**
   * Age after which the keys are refetched in the background; verification keeps using the
   * held keys meanwhile.
   * @default 600000
   */
  readonly maxAgeMs?: number;
  /**
   * Least time between two fetches caused by traffic: a token naming an unknown kid, or no keys
   * held. A flood of random kids costs the identity provider one fetch per cooldown.
   * @default 30000
   */
  readonly cooldownMs?: number;
  /**
   * Bound on one fetch, from connecting to the last byte.
   * @default 2000
   */
  readonly timeoutMs?: number;
}

/** What a remote JWKS reports, for the log and metrics. */
export interface JwksEvent {
  readonly type: 'jwks_fetch_failed' | 'jwks_refreshed';
  readonly url: string;
  /** Why the fetch failed: a status, a network code, a parse failure. Never a response body. */
  readonly error?: string;
}

export interface JwksDependencies {
  /** The undici dispatcher fetches go through; undici's global one by default. */
  readonly dispatcher?: Dispatcher;
  readonly onEvent?: (event: JwksEvent) => void;
  /** Milliseconds, monotonic: tests move it to pass a cooldown or an age. */
  readonly clock?: Clock;
}

/** Largest JWKS body read; identity providers publish a few kilobytes. */
const MAX_JWKS_BYTES = 1024 * 1024;

/**
 * The keys of one JWKS URL, fetched over HTTP and kept.
 *
 * - Verification never waits for a refresh while keys are held: keys older than `maxAgeMs` are
 *   refetched in the background (on the next use, and by an unref'ed timer when there is none).
 * - A token naming a kid the held keys lack causes one refetch, at most once per `cooldownMs`;
 *   tokens arriving while that fetch runs wait for it, then are judged against its keys.
 * - A failed fetch keeps the last keys. With none ever fetched, verification waits for a fetch
 *   (again at most one per cooldown) and throws `AuthUnavailableError` when there is still none:
 *   the caller is not at fault. A later fetch that succeeds recovers without a restart.
 * - Fetches do not follow redirects (undici's `request()` does not), and bodies over 1 MiB are
 *   refused.
 */
export class RemoteJwks implements VerificationKeys {
  readonly symmetric = false;
  readonly url: string;
  private maxAgeMs = 600_000;
  private cooldownMs = 30_000;
  private timeoutMs = 2_000;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly onEvent: ((event: JwksEvent) => void) | undefined;
  private readonly clock: Clock;
  private ring: KeyRing | undefined;
  private gen = 0;
  /** When the keys held were last fetched successfully (clock ms). */
  private fetchedAt = -Infinity;
  /** When the last fetch began, successful or not: the cooldown counts from it. */
  private attemptedAt = -Infinity;
  private inFlight: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly closing = new AbortController();

  constructor(options: RemoteJwksOptions, dependencies: JwksDependencies = {}) {
    this.url = jwksUrl(options.url);
    this.configure(options);
    this.dispatcher = dependencies.dispatcher;
    this.onEvent = dependencies.onEvent;
    this.clock = dependencies.clock ?? systemClock;
  }

  get generation(): number {
    return this.gen;
  }

  /** Whether keys were ever fetched (a readiness check can report it). */
  get hasKeys(): boolean {
    return this.ring !== undefined;
  }

  /** Takes new timings (a reload changed them); the keys held stay. */
  configure(options: RemoteJwksOptions): void {
    const positive = (name: string, value: number | undefined, fallback: number) => {
      if (value === undefined) return fallback;
      if (!(Number.isFinite(value) && value > 0))
        throw new Error(`${name} must be a positive number`);
      return value;
    };
    this.maxAgeMs = positive('maxAgeMs', options.maxAgeMs, 600_000);
    this.cooldownMs = positive('cooldownMs', options.cooldownMs, 30_000);
    this.timeoutMs = positive('timeoutMs', options.timeoutMs, 2_000);
  }

  /** Fetches the keys when none are held (and no fetch runs). Never rejects: failures are events. */
  async warm(): Promise<void> {
    if (this.ring) return;
    await (this.inFlight ?? this.fetch());
  }

  /** Fetches now, or joins the fetch in flight. Never rejects: failures are events. */
  refresh(): Promise<void> {
    return this.inFlight ?? this.fetch();
  }

  async select(alg: string, kid: string | undefined): Promise<KeySelection> {
    const now = this.clock.now();
    if (this.ring === undefined) {
      // Nothing to verify with: wait for a fetch, but cause at most one per cooldown.
      if (this.inFlight) await this.inFlight;
      else if (now - this.attemptedAt >= this.cooldownMs) await this.fetch();
      const ring = this.ring as KeyRing | undefined;
      if (ring === undefined) throw new AuthUnavailableError('no JWKS keys fetched yet');
      return { keys: ring.select(alg, kid), generation: this.gen };
    }
    if (now - this.fetchedAt >= this.maxAgeMs && this.mayFetch(now)) void this.fetch();
    const keys = this.ring.select(alg, kid);
    if (keys.length > 0) return { keys, generation: this.gen };
    // An unknown kid: perhaps the provider rotated. Refetch, bounded by the cooldown.
    if (this.inFlight) await this.inFlight;
    else if (now - this.attemptedAt >= this.cooldownMs) await this.fetch();
    else return { keys, generation: this.gen };
    return { keys: this.ring.select(alg, kid), generation: this.gen };
  }

  /** Stops the timer and any fetch in flight. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.closing.abort();
  }

  private mayFetch(now: number): boolean {
    return this.inFlight === undefined && now - this.attemptedAt >= this.cooldownMs;
  }

  private fetch(): Promise<void> {
    this.attemptedAt = this.clock.now();
    const attempt = this.fetchOnce().finally(() => {
      this.inFlight = undefined;
    });
    this.inFlight = attempt;
    return attempt;
  }

  private async fetchOnce(): Promise<void> {
    let ok = false;
    try {
      const ring = await importJwks(await this.download());
      if (ring.size === 0) throw new Error('the JWKS has no usable public signature key');
      if (ring.fingerprint !== this.ring?.fingerprint) {
        this.ring = ring;
        this.gen += 1;
      }
      this.fetchedAt = this.clock.now();
      ok = true;
      this.onEvent?.({ type: 'jwks_refreshed', url: this.url });
    } catch (error) {
      this.onEvent?.({ type: 'jwks_fetch_failed', url: this.url, error: describe(error) });
    }
    this.schedule(ok ? this.maxAgeMs : this.cooldownMs);
  }

  /** The next background fetch: after maxAgeMs when this one succeeded, after a cooldown if not. */
  private schedule(delayMs: number): void {
    if (this.closing.signal.aborted) return;
    clearTimeout(this.timer);
    // Node fires a delay over 2^31 - 1 ms at once (TimeoutOverflowWarning): cap it.
    const delay = Math.min(delayMs, 2 ** 31 - 1);
    this.timer = setTimeout(() => void this.refresh(), delay).unref();
  }

  private async download(): Promise<unknown> {
    const signal = AbortSignal.any([this.closing.signal, AbortSignal.timeout(this.timeoutMs)]);
    const { statusCode, headers, body } = await request(this.url, {
      method: 'GET',
      headers: { accept: 'application/json, application/jwk-set+json' },
      signal,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
    });
    try {
      if (statusCode !== 200) throw new Error(`HTTP ${statusCode}`);
      const declared = Number(headers['content-length']);
      if (declared > MAX_JWKS_BYTES) throw new Error('body over 1 MiB');
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of body) {
        size += (chunk as Buffer).length;
        if (size > MAX_JWKS_BYTES) throw new Error('body over 1 MiB');
        chunks.push(chunk as Buffer);
      }
      try {
        return JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        throw new Error('body is not JSON');
      }
    } finally {
      // Whatever was left unread: release the connection rather than drain a body refused.
      // (destroying it makes undici emit an abort error nobody else listens for).
      if (!body.readableEnded) body.on('error', () => undefined).destroy();
    }
  }
}

/** The URL, normalized (the pool's key); only http and https are fetched. */
function jwksUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`the JWKS URL ${JSON.stringify(text)} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new Error(`the JWKS URL must be http or https, not ${url.protocol}`);
  return url.href;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (error.name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT') return 'timed out';
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

/**
 * Remote JWKS instances shared per URL. The runtime keeps one pool for the life of the process,
 * so a hot reload that builds new verifiers finds the keys already fetched (no refetch, no
 * window without keys), and two issuers on one URL share one fetch.
 *
 * Instances are counted: `get` takes a reference and `release` drops one (`JwtVerifier.close()`
 * does); an instance no configuration uses any more is closed. A reload builds the new verifier
 * before closing the old one, so the instances both use survive it.
 */
export class JwksPool {
  private readonly instances = new Map<string, { jwks: RemoteJwks; references: number }>();
  private readonly dependencies: JwksDependencies;

  constructor(dependencies: JwksDependencies = {}) {
    this.dependencies = dependencies;
  }

  /** The instance for this URL, created on first use; later options retune its timings. */
  get(options: RemoteJwksOptions): RemoteJwks {
    const url = jwksUrl(options.url);
    const held = this.instances.get(url);
    if (held) {
      held.jwks.configure(options);
      held.references += 1;
      return held.jwks;
    }
    const jwks = new RemoteJwks(options, this.dependencies);
    this.instances.set(url, { jwks, references: 1 });
    return jwks;
  }

  /** Drops one reference taken by `get`; the last one closes the instance. */
  release(jwks: RemoteJwks): void {
    const held = this.instances.get(jwks.url);
    if (!held || held.jwks !== jwks) return;
    held.references -= 1;
    if (held.references > 0) return;
    this.instances.delete(jwks.url);
    jwks.close();
  }

  /** How many URLs the pool holds. */
  get size(): number {
    return this.instances.size;
  }

  close(): void {
    for (const { jwks } of this.instances.values()) jwks.close();
    this.instances.clear();
  }
}
