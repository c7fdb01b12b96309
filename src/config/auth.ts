import { z } from 'zod';
import { DEFAULT_IDENTITY_NAMES as NAMES } from '../kernel/outbound.ts';
import { Duration, HeaderName } from './common.ts';

/**
 * The `auth` section: who may call, how callers prove it, and how the verified identity reaches
 * backends (docs/auth.md). Secrets (`secret`, `client_secret`) come from `${ENV}` and are never
 * logged; API keys are stored only as SHA-256 hashes.
 */

/** What an endpoint demands of its caller. */
export const AuthMode = z.enum(['required', 'optional', 'none']);
export type AuthMode = z.output<typeof AuthMode>;

/** Asymmetric algorithms only: an HMAC algorithm needs `secret`, and then only HMAC is accepted. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;
export const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;

/** Where a token's claims are read from; the first claim present wins. */
const ClaimNames = z.strictObject({
  /** The claim naming the caller. @default sub */
  subject: z.string().min(1).default('sub'),
  /** Claims holding scopes (a space-separated string or a list). @default [scope, scp] */
  scopes: z.array(z.string().min(1)).default(['scope', 'scp']),
  /** Claims naming the OAuth client. @default [client_id, azp] */
  client_id: z.array(z.string().min(1)).default(['client_id', 'azp']),
});

/** One trusted token issuer, with exactly one source of keys. */
export const JwtIssuerConfig = z
  .strictObject({
    /** The `iss` its tokens carry, exactly. */
    issuer: z.string().min(1),
    /** Accepted `aud` values; a token must name one. An empty list checks no audience. */
    audiences: z.array(z.string().min(1)),
    /** The issuer's JWKS endpoint, fetched and cached (the only network call a token causes). */
    jwks_url: z.url({ protocol: /^https?$/, error: 'expected an http or https URL' }).optional(),
    /** A JWKS file, relative to supergraph.yaml; reloaded when it changes. */
    jwks_file: z.string().min(1).optional(),
    /** A PEM public key or certificate file; needs exactly one entry in `algorithms`. */
    pem_file: z.string().min(1).optional(),
    /** A shared secret for HS256/384/512 (through `${ENV}`); never logged. */
    secret: z.string().min(32, 'expected at least 32 characters').optional(),
    /** Accepted `alg` values. @default every asymmetric algorithm (HS256 with `secret`) */
    algorithms: z.array(z.enum([...ASYMMETRIC_ALGORITHMS, ...HMAC_ALGORITHMS])).optional(),
    /** How long fetched keys are used before a background refresh. @default 10m */
    jwks_max_age: Duration.default(600_000),
    /** The least time between two fetches for an unknown `kid`. @default 30s */
    jwks_cooldown: Duration.default(30_000),
    /** Upper bound of one JWKS fetch. @default 2s */
    jwks_timeout: Duration.default(2_000),
    /** Leeway for `exp`, `nbf` and `iat`. @default 0s */
    clock_tolerance: Duration.default(0),
    /** Refuse tokens without `exp`. @default true */
    require_exp: z.boolean().default(true),
    /** Refuse tokens issued (`iat`) longer ago than this. @default no bound */
    max_age: Duration.optional(),
    claims: ClaimNames.default(ClaimNames.parse({})),
  })
  .superRefine((issuer, ctx) => {
    const sources = (['jwks_url', 'jwks_file', 'pem_file', 'secret'] as const).filter(
      (key) => issuer[key] !== undefined,
    );
    if (sources.length !== 1)
      ctx.addIssue({
        code: 'custom',
        path: sources.length === 0 ? [] : [sources[1] as string],
        message: 'give exactly one of jwks_url, jwks_file, pem_file, secret',
      });
    const hmac = issuer.algorithms?.filter((alg) => alg.startsWith('HS')) ?? [];
    if (issuer.secret === undefined && hmac.length > 0)
      ctx.addIssue({
        code: 'custom',
        path: ['algorithms'],
        message: `${hmac.join(', ')} needs a secret: with public keys an HMAC algorithm lets anyone who has the public key sign tokens`,
      });
    if (issuer.secret !== undefined && issuer.algorithms?.some((alg) => !alg.startsWith('HS')))
      ctx.addIssue({
        code: 'custom',
        path: ['algorithms'],
        message: 'a secret verifies HS256, HS384 or HS512 only',
      });
    if (issuer.pem_file !== undefined && issuer.algorithms?.length !== 1)
      ctx.addIssue({
        code: 'custom',
        path: ['algorithms'],
        message: 'a PEM key needs its one algorithm named (algorithms: [RS256])',
      });
  });

/** RFC 7662 token introspection for opaque OAuth access tokens. */
export const IntrospectionConfig = z.strictObject({
  /** The introspection endpoint. */
  url: z.url({ protocol: /^https?$/, error: 'expected an http or https URL' }),
  /** The gateway's client id at the authorization server. */
  client_id: z.string().min(1),
  /** Its secret (through `${ENV}`); sent with HTTP Basic, never logged. */
  client_secret: z.string().min(1),
  /** Upper bound of one introspection call. @default 2s */
  timeout: Duration.default(2_000),
  /** How long an active answer is reused (never past the token's `exp`). @default 5m */
  cache_max_age: Duration.default(300_000),
  /** How long an inactive answer is reused. @default 10s */
  negative_cache: Duration.default(10_000),
  /** When set, an answer naming another `iss` is inactive. */
  issuer: z.string().min(1).optional(),
  /** When set, an answer must name one of these in `aud`. */
  audiences: z.array(z.string().min(1)).optional(),
  claims: ClaimNames.default(ClaimNames.parse({})),
});

/** One API key, stored only as its SHA-256 (`gateway key hash`). */
export const ApiKeyConfig = z.strictObject({
  /** Who holds it: the identity's subject, in log lines. */
  name: z.string().min(1),
  /** Hex SHA-256 of the key. */
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex digits (gateway key hash prints them)')
    .transform((h) => h.toLowerCase()),
  /** The client the key belongs to. */
  client_id: z.string().min(1),
  /** Scopes it grants. @default [] */
  scopes: z.array(z.string().min(1)).default([]),
  /** Its plan (rate budgets key on it). */
  plan: z.string().min(1).optional(),
});

export const ApiKeysConfig = z.strictObject({
  /** The request header (gRPC metadata key) the key travels in. @default x-api-key */
  header: HeaderName.default('x-api-key'),
  keys: z.array(ApiKeyConfig).default([]),
});

/** A named rule for `@policy`: every condition given must hold. */
export const PolicyConfig = z.strictObject({
  /** Scopes the caller must all have. */
  scopes: z.array(z.string().min(1)).optional(),
  /** Claims that must equal the value (or one of the values; a list claim must contain one). */
  claims: z
    .record(
      z.string(),
      z.union([
        z.string(),
        z.number(),
        z.boolean(),
        z.array(z.union([z.string(), z.number(), z.boolean()])),
      ]),
    )
    .optional(),
  /** OAuth clients or API key clients allowed. */
  client_ids: z.array(z.string().min(1)).optional(),
});

/** How a verified identity reaches backends, and how they know the gateway sent it. */
export const IdentityConfig = z.strictObject({
  headers: z
    .strictObject({
      /** The caller's subject. @default x-gateway-subject */
      subject: HeaderName.default(NAMES.subject),
      /** Its scopes, space-separated. @default x-gateway-scopes */
      scopes: HeaderName.default(NAMES.scopes),
      /** Its client id. @default x-gateway-client-id */
      client_id: HeaderName.default(NAMES.clientId),
    })
    .default({ subject: NAMES.subject, scopes: NAMES.scopes, client_id: NAMES.clientId }),
  proof: z
    .strictObject({
      /**
       * `jwt`: a short-lived JWT signed with the gateway's own keys (public at
       * `/.well-known/jwks.json`); `hmac`: a signature over the identity headers with `secret`;
       * `none`: backends get the identity headers without proof. @default jwt
       */
      mode: z.enum(['jwt', 'hmac', 'none']).default('jwt'),
      /** The header (metadata key) the proof travels in. @default x-gateway-proof */
      header: HeaderName.default(NAMES.proof),
      /** `iss` of the gateway's tokens. @default gateway */
      issuer: z.string().min(1).default('gateway'),
      /** `aud` of the gateway's tokens: what backends check. @default backends */
      audience: z.string().min(1).default('backends'),
      /** Lifetime of one token. @default 60s */
      lifetime: Duration.default(60_000),
      /** How often the signing key is replaced (the previous one stays published). @default 1h */
      rotate_every: Duration.default(3_600_000),
      /** The HMAC secret (through `${ENV}`), with `mode: hmac`. */
      secret: z.string().min(32, 'expected at least 32 characters').optional(),
    })
    .default({
      mode: 'jwt',
      header: NAMES.proof,
      issuer: 'gateway',
      audience: 'backends',
      lifetime: 60_000,
      rotate_every: 3_600_000,
    })
    .superRefine((proof, ctx) => {
      if (proof.mode === 'hmac' && proof.secret === undefined)
        ctx.addIssue({ code: 'custom', path: ['secret'], message: 'required with mode: hmac' });
    }),
});

export const AuthConfig = z
  .strictObject({
    /** What callers must present, per surface; routes, methods and services can say otherwise. */
    surfaces: z
      .strictObject({
        /** The GraphQL endpoint. @default optional */
        graphql: AuthMode.default('optional'),
        /** REST routes and transcoded methods. @default optional */
        rest: AuthMode.default('optional'),
        /** The gRPC port. @default optional */
        grpc: AuthMode.default('optional'),
      })
      .default({ graphql: 'optional', rest: 'optional', grpc: 'optional' }),
    /** The `realm` of `WWW-Authenticate`. @default gateway */
    realm: z
      .string()
      .regex(/^[^"\\]+$/, 'expected no quotes or backslashes')
      .default('gateway'),
    /** Trusted JWT issuers. @default [] */
    jwt: z.array(JwtIssuerConfig).default([]),
    introspection: IntrospectionConfig.optional(),
    api_keys: ApiKeysConfig.optional(),
    /** Rules `@policy` names, by name. @default {} */
    policies: z.record(z.string(), PolicyConfig).default({}),
    identity: IdentityConfig.default(IdentityConfig.parse({})),
  })
  .superRefine((auth, ctx) => {
    const issuers = new Set<string>();
    auth.jwt.forEach((entry, index) => {
      if (issuers.has(entry.issuer))
        ctx.addIssue({
          code: 'custom',
          path: ['jwt', index, 'issuer'],
          message: `issuer ${entry.issuer} is listed twice`,
        });
      issuers.add(entry.issuer);
    });
    const names = new Set<string>();
    auth.api_keys?.keys.forEach((key, index) => {
      if (names.has(key.sha256))
        ctx.addIssue({
          code: 'custom',
          path: ['api_keys', 'keys', index, 'sha256'],
          message: 'this key is listed twice',
        });
      names.add(key.sha256);
    });
    const credentials = auth.jwt.length > 0 || auth.introspection || auth.api_keys;
    for (const surface of ['graphql', 'rest', 'grpc'] as const)
      if (auth.surfaces[surface] === 'required' && !credentials)
        ctx.addIssue({
          code: 'custom',
          path: ['surfaces', surface],
          message:
            'required, but no jwt, introspection or api_keys is configured to verify callers',
        });
  });

export type AuthConfig = z.output<typeof AuthConfig>;
export type JwtIssuerConfig = z.output<typeof JwtIssuerConfig>;
export type IntrospectionConfig = z.output<typeof IntrospectionConfig>;
export type ApiKeysConfig = z.output<typeof ApiKeysConfig>;
export type PolicyConfig = z.output<typeof PolicyConfig>;
export type IdentityConfig = z.output<typeof IdentityConfig>;
