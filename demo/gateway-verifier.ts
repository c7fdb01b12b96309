// What a backend behind the gateway does to accept only calls that came through it: check the
// gateway's proof header, then (and only then) read who the caller is from the identity headers.
// The demo backends use this; a real service does the same in a few lines of its own JOSE or
// HMAC library, which is why it lives here and not in the gateway.
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import {
  verifySharedSecretProof,
  type IdentityValues,
} from '../src/policies/auth/gateway-proof.ts';

/** The header names the demo gateway sends (supergraph.yaml `auth.identity.headers`). */
export const DEMO_IDENTITY_HEADERS: Readonly<IdentityHeaders> = {
  subject: 'x-gateway-subject',
  scopes: 'x-gateway-scopes',
  clientId: 'x-gateway-client-id',
  proof: 'x-gateway-proof',
};

/** The demo gateway's internal tokens: `auth.identity.proof`'s defaults, which the demo keeps. */
export const DEMO_PROOF = { issuer: 'gateway', audience: 'backends' } as const;

export interface IdentityHeaders {
  readonly subject: string;
  readonly scopes: string;
  readonly clientId: string;
  readonly proof: string;
}

export type GatewayVerifierOptions = {
  /** Lower case. @default DEMO_IDENTITY_HEADERS */
  readonly headers?: IdentityHeaders;
} & (
  | {
      /**
       * The gateway's `/.well-known/jwks.json`. Fetched on the first call that carries a proof,
       * not before, so the gateway may start after its backends; refetched when a token names a
       * key not yet seen (the gateway publishes the next key ahead of its use).
       */
      readonly jwksUrl: string | URL;
      readonly issuer: string;
      readonly audience: string;
      /** @default 5 */
      readonly clockToleranceS?: number;
    }
  | {
      /** A fixed JWKS (tests). */
      readonly jwks: JSONWebKeySet;
      readonly issuer: string;
      readonly audience: string;
      /** @default 5 */
      readonly clockToleranceS?: number;
    }
  | {
      /** The secret shared with the gateway, in mode `hmac`. */
      readonly secret: string | Uint8Array;
      /** @default 30 */
      readonly maxSkewS?: number;
    }
);

/** Who the gateway says is calling; all absent for an anonymous caller. */
export interface VerifiedCaller {
  readonly subject?: string;
  readonly scopes: readonly string[];
  readonly clientId?: string;
}

/** The call did not come from the gateway: answer 401 / UNAUTHENTICATED. */
export class ProofRejectedError extends Error {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = 'ProofRejectedError';
  }
}

/** The gateway's keys could not be fetched: answer 503 / UNAVAILABLE (the caller may be fine). */
export class ProofKeysUnavailableError extends Error {
  constructor(options: { cause: unknown }) {
    super('the gateway JWKS could not be fetched', options);
    this.name = 'ProofKeysUnavailableError';
  }
}

/**
 * A header as the transport holds it: node:http gives a string (repeats of an x- header joined
 * with ", "), gRPC metadata an array. More than one value is refused, never picked from.
 */
export type HeaderReader = (name: string) => string | readonly (string | Buffer)[] | undefined;

export interface GatewayVerifier {
  readonly headers: IdentityHeaders;
  /**
   * Resolves with the caller when the proof verifies; rejects with ProofRejectedError when it is
   * missing or invalid, or ProofKeysUnavailableError when the gateway's JWKS is out of reach.
   */
  verify(header: HeaderReader): Promise<VerifiedCaller>;
}

export function createGatewayVerifier(options: GatewayVerifierOptions): GatewayVerifier {
  const headers = options.headers ?? DEMO_IDENTITY_HEADERS;
  /** The identity headers exactly as sent (what an HMAC covers); decode() them before use. */
  const identity = (read: HeaderReader) => ({
    subject: single(read, headers.subject),
    scopes: single(read, headers.scopes),
    clientId: single(read, headers.clientId),
  });

  if ('secret' in options) {
    const { secret, maxSkewS = 30 } = options;
    return {
      headers,
      async verify(read) {
        const sent = identity(read);
        const check = verifySharedSecretProof(single(read, headers.proof), sent, secret, {
          maxSkewS,
        });
        if (!check.ok) throw new ProofRejectedError(`HMAC proof ${check.reason}`);
        const values = decoded(sent);
        return caller(values.subject, values.scopes, values.clientId);
      },
    };
  }

  const keys = guardKeys(
    'jwks' in options
      ? createLocalJWKSet(options.jwks)
      : createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: 2_000 }),
  );
  const { issuer, audience, clockToleranceS = 5 } = options;
  return {
    headers,
    async verify(read) {
      const token = single(read, headers.proof);
      if (!token) throw new ProofRejectedError('no proof');
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keys, {
          issuer,
          audience,
          // What the gateway signs with; never `none`, never a symmetric algorithm.
          algorithms: ['EdDSA', 'ES256'],
          typ: 'JWT',
          requiredClaims: ['iat', 'exp'],
          clockTolerance: clockToleranceS,
        }));
      } catch (error) {
        if (error instanceof ProofKeysUnavailableError) throw error;
        throw new ProofRejectedError(`JWT proof: ${(error as Error).message}`, { cause: error });
      }
      // The token is the identity; headers that disagree with it were not the gateway's.
      const sent = decoded(identity(read));
      const subject = stringClaim(payload.sub);
      const scope = stringClaim(payload.scope);
      const clientId = stringClaim(payload.client_id);
      if (
        (sent.subject !== undefined && sent.subject !== subject) ||
        (sent.clientId !== undefined && sent.clientId !== clientId) ||
        (sent.scopes !== undefined && !sameScopes(sent.scopes, scope ?? ''))
      ) {
        throw new ProofRejectedError('identity headers differ from the proof');
      }
      return caller(subject, scope, clientId);
    },
  };
}

/**
 * Failures to fetch keys become ProofKeysUnavailableError; a key set that simply lacks the
 * token's kid stays jose's JWKSNoMatchingKey (a rejected proof).
 */
function guardKeys(keys: JWTVerifyGetKey): JWTVerifyGetKey {
  return async (header, token) => {
    try {
      return await keys(header, token);
    } catch (error) {
      if (
        error instanceof errors.JWKSNoMatchingKey ||
        error instanceof errors.JWKSMultipleMatchingKeys
      ) {
        throw error;
      }
      throw new ProofKeysUnavailableError({ cause: error });
    }
  };
}

function single(read: HeaderReader, name: string): string | undefined {
  const value = read(name);
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (value.length === 0) return undefined;
  if (value.length > 1) throw new ProofRejectedError(`${name} sent more than once`);
  const [only] = value;
  return only === undefined || only === '' ? undefined : String(only);
}

/**
 * The gateway percent-encodes (UTF-8) a value with anything outside printable ASCII, `%`
 * included, and sends the rest as is; a value without `%` therefore decodes to itself.
 */
function decode(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    throw new ProofRejectedError('an identity header is not percent-encoded properly');
  }
}

function decoded(sent: IdentityValues): IdentityValues {
  return {
    subject: decode(sent.subject),
    scopes: decode(sent.scopes),
    clientId: decode(sent.clientId),
  };
}

function stringClaim(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Scopes travel space-separated (RFC 6749 section 3.3); commas are tolerated in the header. */
function splitScopes(scopes: string | undefined): string[] {
  return scopes ? scopes.split(/[\s,]+/).filter(Boolean) : [];
}

function sameScopes(header: string, claim: string): boolean {
  const a = new Set(splitScopes(header));
  const b = new Set(splitScopes(claim));
  return a.size === b.size && [...a].every((s) => b.has(s));
}

function caller(
  subject: string | undefined,
  scopes: string | undefined,
  clientId: string | undefined,
): VerifiedCaller {
  return {
    ...(subject !== undefined ? { subject } : {}),
    scopes: splitScopes(scopes),
    ...(clientId !== undefined ? { clientId } : {}),
  };
}

/** A HeaderReader for node:http requests. */
export const httpHeaders =
  (headers: Readonly<Record<string, string | string[] | undefined>>): HeaderReader =>
  (name) =>
    headers[name];

/** A HeaderReader for gRPC metadata. */
export const grpcMetadata =
  (metadata: { get(key: string): (string | Buffer)[] }): HeaderReader =>
  (name) =>
    metadata.get(name);
