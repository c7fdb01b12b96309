/**
 * What a credential check can conclude besides an identity. These stay inside policies/auth:
 * the `authenticate` stage turns them into the one answer every rejection gets (401
 * UNAUTHENTICATED with `WWW-Authenticate`, the reason only in the log line) or a 503
 * AUTH_UNAVAILABLE, so no check can leak which of them failed.
 */

/**
 * The credential was presented and is not acceptable: malformed, badly signed, expired, not
 * yet valid, for another issuer, audience or type, signed by an unknown key, an unknown API key.
 * `reason` is for the log line only (never the client), and never holds the credential itself.
 */
export class CredentialError extends Error {
  /** RFC 6750 section 3.1: `invalid_request` for a malformed request, else `invalid_token`. */
  readonly rfc6750: 'invalid_request' | 'invalid_token';
  readonly reason: string;

  constructor(reason: string, rfc6750: 'invalid_request' | 'invalid_token' = 'invalid_token') {
    super(reason);
    this.name = 'CredentialError';
    this.reason = reason;
    this.rfc6750 = rfc6750;
  }
}

/**
 * The credential could not be checked: no signing keys were ever fetched from the issuer's
 * JWKS, or the introspection endpoint is down. The client is not at fault (503, not 401).
 */
export class AuthUnavailableError extends Error {
  readonly reason: string;

  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = 'AuthUnavailableError';
    this.reason = reason;
  }
}
