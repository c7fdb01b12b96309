import type { AuthMode, Identity, RequestContext, Surface } from '../../kernel/context.ts';
import { ErrorCode, GatewayError } from '../../kernel/errors.ts';
import { AuthUnavailableError, CredentialError } from './credential-errors.ts';

/** Verifies one kind of bearer token: a JWT (jwt.ts) or an opaque one (introspection.ts). */
export interface TokenVerifier {
  verify(token: string): Promise<Identity>;
}

/** API keys by hash (api-keys.ts). */
export interface KeyMatcher {
  match(presented: string): Identity | undefined;
}

/** How a snapshot verifies callers: built from `auth` once per load (runtime/snapshot.ts). */
export interface Credentials {
  /** Each surface's default; endpoints may say otherwise (`ctx.authMode`). */
  readonly surfaces: Readonly<Record<Surface, AuthMode>>;
  readonly realm: string;
  /** Trusted JWT issuers, when any. */
  readonly jwt?: TokenVerifier | undefined;
  /** Introspection of opaque tokens, when configured. */
  readonly introspection?: TokenVerifier | undefined;
  readonly apiKeys?: { readonly header: string; readonly keys: KeyMatcher } | undefined;
  /**
   * Resolves once configured keys are imported and remote ones fetched once (an unreachable
   * JWKS does not reject: it is retried); rejects when a configured key is unusable.
   */
  ready(): Promise<void>;
  /** Lets go of what the verifiers hold (JWKS references, introspection caches and pools). */
  close(): void;
}

/** A compact JWS: three base64url segments. Anything else bearer-shaped is opaque. */
const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
/** RFC 6750 section 2.1: `Bearer` (any case), one space run, then a b64token. */
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*)$/i;
/** Beyond this a header is not a credential anyone issues: refused before any parsing. */
const MAX_CREDENTIAL_LENGTH = 16_384;

/**
 * Stage: who is calling. Reads the credential the request presents (`Authorization: Bearer`, or
 * the API key header), verifies it, and sets `ctx.identity`. Every rejection looks the same to
 * the client, 401 UNAUTHENTICATED with `WWW-Authenticate`; which check failed goes to the log
 * line only (`facts.authFailure`). A presented credential that fails rejects the whole request
 * whatever the endpoint's mode, so a client never gets an anonymous answer it did not ask for;
 * a missing one is refused only where the mode is `required`. An identity provider that cannot
 * be asked answers 503 AUTH_UNAVAILABLE: the client did nothing wrong.
 */
export async function authenticate(ctx: RequestContext): Promise<void> {
  const credentials = ctx.snapshot.credentials;
  const mode = ctx.authMode ?? credentials.surfaces[ctx.facts.surface];
  if (mode === 'none') return;
  try {
    const identity = await identify(ctx, credentials);
    if (identity) {
      ctx.identity = identity;
      ctx.facts.auth = identity.kind;
      return;
    }
  } catch (error) {
    if (error instanceof CredentialError) {
      ctx.facts.auth = 'rejected';
      ctx.facts.authFailure = error.reason;
      throw unauthenticated(ctx, credentials, 'invalid_token', error);
    }
    if (error instanceof AuthUnavailableError) {
      ctx.facts.authFailure = error.reason;
      throw new GatewayError(
        ErrorCode.AUTH_UNAVAILABLE,
        'Credentials cannot be verified right now; retry later.',
        { cause: error, requestLevel: true },
      );
    }
    throw error;
  }
  ctx.facts.auth = 'anonymous';
  if (mode === 'required') {
    ctx.facts.authFailure = 'no credential';
    throw unauthenticated(ctx, credentials, undefined);
  }
}

/** The identity a request's credential proves; undefined when it presents none we read. */
async function identify(
  ctx: RequestContext,
  credentials: Credentials,
): Promise<Identity | undefined> {
  const tokens = credentials.jwt !== undefined || credentials.introspection !== undefined;
  const authorization = tokens ? single(ctx.headers.authorization) : undefined;
  const key = credentials.apiKeys ? single(ctx.headers[credentials.apiKeys.header]) : undefined;
  if (authorization === undefined && key === undefined) return undefined;
  if (authorization !== undefined && key !== undefined)
    throw new CredentialError('two credentials', 'invalid_request');
  if (key !== undefined) {
    if (key.length === 0 || key.length > MAX_CREDENTIAL_LENGTH)
      throw new CredentialError('malformed api key', 'invalid_request');
    const identity = credentials.apiKeys?.keys.match(key);
    if (!identity) throw new CredentialError('unknown api key');
    return identity;
  }
  const token =
    authorization !== undefined && authorization.length <= MAX_CREDENTIAL_LENGTH
      ? BEARER.exec(authorization)?.[1]
      : undefined;
  // Another scheme, or a Bearer header that is not one: presented, and not acceptable.
  if (token === undefined) throw new CredentialError('malformed authorization', 'invalid_request');
  const verifier =
    credentials.jwt && (JWS.test(token) || !credentials.introspection)
      ? credentials.jwt
      : credentials.introspection;
  return (verifier as TokenVerifier).verify(token);
}

/** The one value of a header; a repeated credential header is refused, not guessed at. */
function single(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value))
    throw new CredentialError('repeated credential header', 'invalid_request');
  return value;
}

/**
 * 401 with the challenges of every scheme the gateway accepts (RFC 9110 section 11.6.1); the
 * `error` attribute (RFC 6750 section 3.1) only when a credential was presented.
 */
function unauthenticated(
  ctx: RequestContext,
  credentials: Credentials,
  error: 'invalid_token' | undefined,
  cause?: CredentialError,
): GatewayError {
  const challenges: string[] = [];
  const realm = `realm="${credentials.realm}"`;
  if (credentials.jwt || credentials.introspection)
    challenges.push(`Bearer ${realm}${error ? `, error="${cause?.rfc6750 ?? error}"` : ''}`);
  if (credentials.apiKeys)
    challenges.push(`ApiKey ${realm}, header="${credentials.apiKeys.header}"`);
  if (challenges.length === 0) challenges.push(`Bearer ${realm}`);
  ctx.responseHeaders.set('www-authenticate', challenges.join(', '));
  return new GatewayError(ErrorCode.UNAUTHENTICATED, 'The request is not authenticated.', {
    cause,
    requestLevel: true,
  });
}
