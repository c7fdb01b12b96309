import type { Identity } from '../../kernel/context.ts';

/**
 * Tokens already verified, so that a client presenting the same token request after request
 * pays a map lookup rather than a signature check (an RS256 or ES256 verification costs tens of
 * microseconds, the whole auth budget). Keyed by the token string itself: only tokens that
 * passed every check get in, so a caller cannot fill it with garbage.
 *
 * An entry is trusted only while
 * - its key set has not changed since (`generation`: a key removed at rotation must stop
 *   verifying what it signed, so every entry of that issuer is checked again);
 * - it is younger than `maxTtlS` (what a changed config or a revoked key costs at most);
 * and the caller re-checks the time claims against the clock on every hit (`exp`, `nbf`, age),
 * because a token that was valid when cached expires like any other.
 *
 * Bounded by entries and by the bytes of the tokens it keeps, least recently used first out
 * (a Map iterates in insertion order; a hit moves its entry to the end).
 */

export interface VerifiedToken {
  readonly identity: Identity;
  /** The key source the token was verified with, and its generation then. */
  readonly keys: { readonly generation: number };
  readonly generation: number;
  /** Seconds since the epoch after which the entry is verified afresh. */
  readonly until: number;
  /** The time claims the caller re-checks on every hit. */
  readonly exp: number | undefined;
  readonly nbf: number | undefined;
  readonly iat: number | undefined;
  /** The issuer's clock tolerance and maximum age, which the re-check applies. */
  readonly toleranceS: number;
  readonly maxAgeS: number | undefined;
}

export interface VerifiedCacheOptions {
  /** @default 10000 */
  readonly maxEntries?: number;
  /** Sum of the cached tokens' lengths. @default 16 MiB */
  readonly maxBytes?: number;
  /** Longest an entry is trusted, in seconds. @default 300 */
  readonly maxTtlS?: number;
}

export class VerifiedTokenCache {
  readonly maxTtlS: number;
  private readonly maxEntries: number;
  private readonly maxBytes: number;
  private readonly entries = new Map<string, VerifiedToken>();
  private bytes = 0;

  constructor(options: VerifiedCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    this.maxTtlS = options.maxTtlS ?? 300;
  }

  /**
   * The entry for this token when it is still current (same key generation, not past `until`);
   * a stale entry is dropped. The time claims are the caller's to check.
   */
  get(token: string, nowS: number): VerifiedToken | undefined {
    const entry = this.entries.get(token);
    if (entry === undefined) return undefined;
    if (entry.keys.generation !== entry.generation || nowS >= entry.until) {
      this.delete(token);
      return undefined;
    }
    // Most recently used goes last.
    this.entries.delete(token);
    this.entries.set(token, entry);
    return entry;
  }

  set(token: string, entry: VerifiedToken): void {
    if (token.length > this.maxBytes) return;
    this.delete(token);
    this.entries.set(token, entry);
    this.bytes += token.length;
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.entries.keys().next().value as string;
      this.delete(oldest);
    }
  }

  delete(token: string): void {
    if (this.entries.delete(token)) this.bytes -= token.length;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  get size(): number {
    return this.entries.size;
  }
}
