import { createHash } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import type { Identity } from '../../kernel/context.ts';
import { AuthUnavailableError, CredentialError } from './credential-errors.ts';

/**
 * Opaque OAuth 2 access tokens, checked by asking the authorization server (RFC 7662 token
 * introspection, https://www.rfc-editor.org/rfc/rfc7662). The answers are cached by the token's
 * SHA-256, never the token itself: an active one until it expires (within a bound, so a revoked
 * token stops working soon enough), an inactive one briefly, so a client retrying a dead token
 * does not reach the authorization server on every request. An endpoint that cannot answer is
 * the gateway's problem, not the caller's: AuthUnavailableError (503), never cached, never 500.
 */
export interface IntrospectionOptions {
  /** The introspection endpoint (RFC 7662 section 2). */
  url: string;
  /** The gateway's own client id at the authorization server (sent with HTTP Basic). */
  clientId: string;
  clientSecret: string;
  /**
   * How long one introspection may take, from sending to the last byte of the answer.
   * @default 2000
   */
  timeoutMs?: number;
  /**
   * How long an active answer is reused at most; it is never reused past the token's `exp`. This
   * bounds how long a token revoked at the authorization server keeps working here.
   * @default 300000
   */
  maxCacheMs?: number;
  /**
   * How long an inactive answer is reused.
   * @default 10000
   */
  negativeCacheMs?: number;
  /**
   * How many answers (active and inactive) the cache holds; the least recently used go first.
   * @default 10000
   */
  maxEntries?: number;
  /** When set, an active answer whose `iss` is absent or different is rejected. */
  issuer?: string;
  /** When set, an active answer must name at least one of these in `aud`. */
  audiences?: readonly string[];
  /** Which members of the answer hold the identity, for servers that differ from RFC 7662. */
  claims?: {
    /**
     * The member holding the subject.
     * @default `sub`, else `username`, else the client id (RFC 9068 section 2.2: a token with no
     * resource owner, such as one from the client credentials grant, names its client)
     */
    subject?: string;
    /**
     * Members holding scopes, each a space-separated string or an array of strings; their union
     * is the identity's scopes.
     * @default ['scope']
     */
    scopes?: readonly string[];
    /**
     * Members holding the OAuth client, the first one present wins.
     * @default ['client_id']
     */
    clientId?: readonly string[];
  };
}

export interface IntrospectorDeps {
  /**
   * Where requests go. The owner closes it; without one the introspector keeps its own
   * connection pool and closes it in `close()`.
   */
  dispatcher?: Dispatcher;
  /** Wall-clock milliseconds since the epoch (compared with `exp` and `nbf`). */
  now?: () => number;
}

/** An answer is a handful of members; anything larger is not an introspection answer. */
const MAX_ANSWER_BYTES = 64 * 1024;
/** RFC 6750 section 2.1 `b64token`; anything else is not a bearer token and is not sent on. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** Real opaque tokens are far shorter; a longer string is refused before it reaches the server. */
const MAX_TOKEN_LENGTH = 4096;

type CacheEntry =
  | { readonly until: number; readonly identity: Identity }
  | { readonly until: number; readonly rejected: string };

export class Introspector {
  readonly #url: string;
  readonly #authorization: string;
  readonly #timeoutMs: number;
  readonly #maxCacheMs: number;
  readonly #negativeCacheMs: number;
  readonly #maxEntries: number;
  readonly #issuer: string | undefined;
  readonly #audiences: ReadonlySet<string> | undefined;
  readonly #subjectClaim: string | undefined;
  readonly #scopeClaims: readonly string[];
  readonly #clientIdClaims: readonly string[];
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #now: () => number;
  /** Keyed by the token's SHA-256; a Map iterates in insertion order, so the first is the LRU. */
  readonly #cache = new Map<string, CacheEntry>();
  /** Introspections under way, by the same key: concurrent requests with one token share one. */
  readonly #pending = new Map<string, Promise<Identity>>();
  #closed = false;

  constructor(options: IntrospectionOptions, deps: IntrospectorDeps = {}) {
    this.#url = options.url;
    this.#authorization = basicAuthorization(options.clientId, options.clientSecret);
    this.#timeoutMs = options.timeoutMs ?? 2_000;
    this.#maxCacheMs = options.maxCacheMs ?? 300_000;
    this.#negativeCacheMs = options.negativeCacheMs ?? 10_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#issuer = options.issuer;
    this.#audiences = options.audiences ? new Set(options.audiences) : undefined;
    this.#subjectClaim = options.claims?.subject;
    this.#scopeClaims = options.claims?.scopes ?? ['scope'];
    this.#clientIdClaims = options.claims?.clientId ?? ['client_id'];
    this.#ownsDispatcher = deps.dispatcher === undefined;
    this.#dispatcher = deps.dispatcher ?? new Agent();
    this.#now = deps.now ?? Date.now;
  }

  /**
   * The identity an opaque access token stands for. Throws CredentialError when the token is
   * malformed, inactive, expired, not yet valid, or for another issuer or audience, and
   * AuthUnavailableError when the endpoint cannot say.
   */
  async introspect(token: string): Promise<Identity> {
    if (token.length > MAX_TOKEN_LENGTH || !B64TOKEN.test(token)) {
      throw new CredentialError('malformed token');
    }
    const key = createHash('sha256').update(token).digest('base64url');
    const cached = this.#cached(key);
    if (cached) {
      if ('identity' in cached) return cached.identity;
      throw new CredentialError(cached.rejected);
    }
    let pending = this.#pending.get(key);
    if (!pending) {
      pending = this.#introspectOnce(key, token).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    return pending;
  }

  /** Forgets every answer; a pool of its own is closed once the requests under way end. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#cache.clear();
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  #cached(key: string): CacheEntry | undefined {
    const entry = this.#cache.get(key);
    if (!entry) return undefined;
    this.#cache.delete(key);
    if (entry.until <= this.#now()) return undefined;
    this.#cache.set(key, entry); // most recently used now
    return entry;
  }

  #remember(key: string, entry: CacheEntry): void {
    if (this.#closed || entry.until <= this.#now()) return;
    this.#cache.delete(key);
    this.#cache.set(key, entry);
    while (this.#cache.size > this.#maxEntries) {
      const oldest = this.#cache.keys().next();
      if (oldest.done) break;
      this.#cache.delete(oldest.value);
    }
  }

  async #introspectOnce(key: string, token: string): Promise<Identity> {
    const answer = await this.#ask(token);
    try {
      const identity = this.#identityFrom(answer);
      const expiresAt = identity.expiresAt === undefined ? Infinity : identity.expiresAt * 1000;
      this.#remember(key, { until: Math.min(expiresAt, this.#now() + this.#maxCacheMs), identity });
      return identity;
    } catch (error) {
      if (error instanceof CredentialError) {
        this.#remember(key, {
          until: this.#now() + this.#negativeCacheMs,
          rejected: error.reason,
        });
      }
      throw error;
    }
  }

  /** One exchange with the endpoint: its JSON object answer, or AuthUnavailableError. */
  async #ask(token: string): Promise<Record<string, unknown>> {
    if (this.#closed) throw new AuthUnavailableError('token introspection is closed');
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#timeoutMs);
    try {
      let response: Dispatcher.ResponseData;
      try {
        response = await request(this.#url, {
          dispatcher: this.#dispatcher,
          method: 'POST',
          headers: {
            authorization: this.#authorization,
            'content-type': 'application/x-www-form-urlencoded',
            accept: 'application/json',
          },
          // RFC 7662 section 2.1: the token and a hint of its type, form-encoded.
          body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
          signal: controller.signal,
        });
      } catch (error) {
        throw unavailable(controller.signal.aborted, 'unreachable', error);
      }
      let body: string;
      try {
        if (response.statusCode < 200 || response.statusCode >= 300) {
          await response.body.dump();
          throw new AuthUnavailableError(
            `token introspection answered HTTP ${response.statusCode}`,
          );
        }
        body = await readCapped(response.body, MAX_ANSWER_BYTES);
      } catch (error) {
        if (error instanceof AuthUnavailableError) throw error;
        throw unavailable(controller.signal.aborted, 'failed while answering', error);
      }
      let answer: unknown;
      try {
        answer = JSON.parse(body);
      } catch (error) {
        throw new AuthUnavailableError('token introspection answered something other than JSON', {
          cause: error,
        });
      }
      if (!isObject(answer) || typeof answer.active !== 'boolean') {
        throw new AuthUnavailableError('token introspection answered without a boolean "active"');
      }
      return answer;
    } finally {
      clearTimeout(timer);
    }
  }

  /** RFC 7662 section 2.2: an active answer, checked, as an identity. */
  #identityFrom(answer: Record<string, unknown>): Identity {
    if (answer.active !== true) throw new CredentialError('inactive');
    const nowSeconds = this.#now() / 1000;
    const exp = timestamp(answer, 'exp');
    // RFC 7519 section 4.1.4: the current time must be before `exp`.
    if (exp !== undefined && nowSeconds >= exp) throw new CredentialError('expired');
    const nbf = timestamp(answer, 'nbf');
    if (nbf !== undefined && nowSeconds < nbf) throw new CredentialError('not yet valid');
    const iss = text(answer, 'iss');
    if (this.#issuer !== undefined && iss !== this.#issuer) {
      throw new CredentialError('issuer not accepted');
    }
    if (this.#audiences && !audiencesOf(answer).some((aud) => this.#audiences?.has(aud))) {
      throw new CredentialError('audience not accepted');
    }
    const clientId = firstText(answer, this.#clientIdClaims);
    const subject =
      this.#subjectClaim !== undefined
        ? text(answer, this.#subjectClaim)
        : (text(answer, 'sub') ?? text(answer, 'username') ?? clientId);
    if (!subject) throw new CredentialError('no subject');
    const scopes = new Set<string>();
    for (const claim of this.#scopeClaims)
      for (const scope of scopesOf(answer, claim)) scopes.add(scope);
    const claims = deepFreeze(answer);
    return Object.freeze({
      kind: 'opaque' as const,
      subject,
      scopes: Object.freeze([...scopes]),
      claims,
      ...(iss !== undefined ? { issuer: iss } : {}),
      ...(clientId !== undefined ? { clientId } : {}),
      ...(exp !== undefined ? { expiresAt: exp } : {}),
    });
  }
}

/**
 * client_secret_basic, RFC 6749 section 2.3.1: the id and the secret are each form-urlencoded
 * before they are joined with ":" and base64-encoded, so a ":" or a non-ASCII character in either
 * survives. Servers decode them the same way; sending them raw breaks on exactly those characters.
 */
function basicAuthorization(clientId: string, clientSecret: string): string {
  const credentials = `${formEncode(clientId)}:${formEncode(clientSecret)}`;
  return `Basic ${Buffer.from(credentials).toString('base64')}`;
}

/** The application/x-www-form-urlencoded serializer's encoding of one value (spaces as "+"). */
function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice('v='.length);
}

function unavailable(timedOut: boolean, what: string, cause: unknown): AuthUnavailableError {
  if (timedOut) return new AuthUnavailableError('token introspection timed out', { cause });
  const code = (cause as { code?: unknown } | null)?.code;
  return new AuthUnavailableError(
    `token introspection ${what}${typeof code === 'string' ? ` (${code})` : ''}`,
    { cause },
  );
}

async function readCapped(body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw new AuthUnavailableError(`token introspection answered more than ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A member RFC 7662 types, of another type: the server's answer is broken, not the token. */
function malformed(member: string): AuthUnavailableError {
  return new AuthUnavailableError(`token introspection answered a malformed "${member}"`);
}

function text(answer: Record<string, unknown>, member: string): string | undefined {
  const value = answer[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw malformed(member);
  return value === '' ? undefined : value;
}

function firstText(answer: Record<string, unknown>, members: readonly string[]) {
  for (const member of members) {
    const value = text(answer, member);
    if (value !== undefined) return value;
  }
  return undefined;
}

/** NumericDate (RFC 7519 section 2): seconds since the epoch. */
function timestamp(answer: Record<string, unknown>, member: string): number | undefined {
  const value = answer[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw malformed(member);
  return value;
}

function audiencesOf(answer: Record<string, unknown>): string[] {
  const aud = answer.aud;
  if (aud === undefined || aud === null) return [];
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud) && aud.every((a) => typeof a === 'string')) return aud;
  throw malformed('aud');
}

/** RFC 7662 `scope` is space-separated; some servers answer an array (`scp`). */
function scopesOf(answer: Record<string, unknown>, member: string): string[] {
  const value = answer[member];
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return value.split(' ').filter(Boolean);
  if (Array.isArray(value) && value.every((s) => typeof s === 'string')) {
    return value.filter(Boolean);
  }
  throw malformed(member);
}

/** A cached identity is shared by every request that presents the token: none may change it. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}
