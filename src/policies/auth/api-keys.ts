import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Identity } from '../../kernel/context.ts';

/**
 * API keys: long random secrets a client sends in a header. The config holds only their SHA-256
 * (`gateway key hash`), so a leaked config leaks no key, and no key is kept in memory either: the
 * presented key is hashed once and its digest compared with every entry's in constant time.
 * A key is revoked by removing its entry (the next config load builds a new ApiKeys).
 */
export interface ApiKeyEntry {
  /** The key's name: the identity's subject, and what logs and metrics show. */
  name: string;
  /** Hex SHA-256 of the key's UTF-8 bytes (64 hex digits, either case). */
  sha256: string;
  clientId: string;
  scopes: readonly string[];
  /** The client's plan; rate budgets key on it. */
  plan?: string;
}

export interface ApiKeysDeps {
  /**
   * Compares two 32-byte digests. Always `crypto.timingSafeEqual` outside tests, which count
   * the comparisons through it.
   */
  timingSafeEqual?: (a: Buffer, b: Buffer) => boolean;
}

/** What `generateApiKey` puts first, so a leaked key is recognisable (secret scanners, logs). */
export const API_KEY_PREFIX = 'gw_';

const SHA256_HEX = /^[0-9a-f]{64}$/i;

interface Entry {
  readonly digest: Buffer;
  readonly identity: Identity;
}

export class ApiKeys {
  readonly #entries: readonly Entry[];
  readonly #equal: (a: Buffer, b: Buffer) => boolean;

  /** Throws for an entry whose hash is not 64 hex digits, and for two entries with one hash. */
  constructor(entries: readonly ApiKeyEntry[], deps: ApiKeysDeps = {}) {
    const byHash = new Map<string, string>();
    this.#entries = entries.map((entry) => {
      if (!SHA256_HEX.test(entry.sha256)) {
        throw new TypeError(`API key "${entry.name}": sha256 must be 64 hex digits`);
      }
      const hex = entry.sha256.toLowerCase();
      const other = byHash.get(hex);
      if (other !== undefined) {
        throw new TypeError(`API keys "${other}" and "${entry.name}" have the same sha256`);
      }
      byHash.set(hex, entry.name);
      // Built once: every request with this key shares it, so none may change it.
      const identity: Identity = Object.freeze({
        kind: 'api_key',
        subject: entry.name,
        clientId: entry.clientId,
        scopes: Object.freeze([...new Set(entry.scopes)]),
        claims: Object.freeze({}),
        ...(entry.plan !== undefined ? { plan: entry.plan } : {}),
      });
      return { digest: Buffer.from(hex, 'hex'), identity };
    });
    this.#equal = deps.timingSafeEqual ?? timingSafeEqual;
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The identity of the entry whose key was presented, or undefined for any other string. */
  match(presented: string): Identity | undefined {
    // Emptiness is no secret; an empty header value is never a key, whatever the config holds.
    if (presented.length === 0) return undefined;
    // Comparing digests, not keys, already hides how much of a guess was right; comparing
    // with every entry, without stopping at a match, hides which entry and how many there
    // are before it. Keep this loop free of early exits.
    const digest = sha256(presented);
    let found: Identity | undefined;
    for (const entry of this.#entries) {
      if (this.#equal(digest, entry.digest)) found = entry.identity;
    }
    return found;
  }
}

/** Hex SHA-256 of the key's UTF-8 bytes: what an entry's `sha256` holds. */
export function hashApiKey(key: string): string {
  return sha256(key).toString('hex');
}

/** A new key: 32 random bytes (256 bits), base64url, after `gw_`. */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

function sha256(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}
