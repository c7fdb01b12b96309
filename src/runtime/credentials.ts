import { ConfigError } from '../config/errors.ts';
import type { AuthKeyFile, LoadedConfig } from '../config/load.ts';
import { AuthConfig, type JwtIssuerConfig } from '../config/auth.ts';
import type { IdentityHeaderNames, IdentityProof } from '../kernel/outbound.ts';
import {
  GatewayTokens,
  SharedSecretProof,
  type GatewayJwks,
} from '../policies/auth/gateway-proof.ts';
import { ApiKeys } from '../policies/auth/api-keys.ts';
import type { Credentials, TokenVerifier } from '../policies/auth/authenticate.ts';
import { Introspector, type IntrospectionOptions } from '../policies/auth/introspection.ts';
import type { JwksPool } from '../policies/auth/jwks.ts';
import { JwtVerifier, type JwtIssuerOptions, type KeySource } from '../policies/auth/jwt.ts';
import type { Dispatcher } from 'undici';

/** What verifying callers needs from the running gateway: pools that outlive snapshots. */
export interface CredentialDeps {
  readonly dispatcher: Dispatcher;
  /** One cache per JWKS URL, kept across reloads so a reload does not refetch every key set. */
  readonly jwks: JwksPool;
  /** Wall-clock ms since the epoch. @default Date.now */
  readonly wallClock?: (() => number) | undefined;
}

/**
 * The `auth` section as the `authenticate` stage uses it: verifiers built once per load. API
 * keys live here, so removing an entry and saving the file revokes the key at the next reload.
 */
export function buildCredentials(
  loaded: LoadedConfig | undefined,
  deps: CredentialDeps,
): Credentials {
  const auth = loaded?.config.auth ?? AuthConfig.parse({});
  const issuers = auth.jwt.map((issuer, index) =>
    issuerOptions(issuer, loaded?.authKeys.get(index)),
  );
  const introspection = auth.introspection;
  const wallClock = deps.wallClock;
  const file = loaded?.file ?? 'supergraph.yaml';
  let jwt: JwtVerifier | undefined;
  try {
    jwt =
      issuers.length > 0
        ? new JwtVerifier(issuers, {
            pool: deps.jwks,
            ...(wallClock ? { now: () => wallClock() / 1000 } : {}),
          })
        : undefined;
  } catch (error) {
    throw new ConfigError([{ file, path: 'auth.jwt', message: (error as Error).message }]);
  }
  const opaque = introspection
    ? introspector(
        {
          url: introspection.url,
          clientId: introspection.client_id,
          clientSecret: introspection.client_secret,
          timeoutMs: introspection.timeout,
          maxCacheMs: introspection.cache_max_age,
          negativeCacheMs: introspection.negative_cache,
          ...(introspection.issuer === undefined ? {} : { issuer: introspection.issuer }),
          ...(introspection.audiences === undefined ? {} : { audiences: introspection.audiences }),
          claims: claimsOf(introspection.claims),
        },
        deps.dispatcher,
        wallClock,
      )
    : undefined;
  return {
    surfaces: auth.surfaces,
    realm: auth.realm,
    jwt,
    introspection: opaque,
    apiKeys: auth.api_keys
      ? {
          header: auth.api_keys.header,
          keys: new ApiKeys(
            auth.api_keys.keys.map((key) => ({
              name: key.name,
              sha256: key.sha256,
              clientId: key.client_id,
              scopes: key.scopes,
              ...(key.plan === undefined ? {} : { plan: key.plan }),
            })),
          ),
        }
      : undefined,
    async ready() {
      try {
        await jwt?.start();
      } catch (error) {
        throw new ConfigError([{ file, path: 'auth.jwt', message: (error as Error).message }]);
      }
    },
    close() {
      jwt?.close();
      opaque?.close();
    },
  };
}

function introspector(
  options: IntrospectionOptions,
  dispatcher: Dispatcher,
  now: (() => number) | undefined,
): TokenVerifier & { close(): void } {
  const endpoint = new Introspector(options, { dispatcher, ...(now ? { now } : {}) });
  return {
    verify: (token) => endpoint.introspect(token),
    close: () => void endpoint.close(),
  };
}

/** The names identity travels under to backends (`auth.identity`). */
export function identityNamesOf(auth: Pick<AuthConfig, 'identity'>): IdentityHeaderNames {
  const { headers, proof } = auth.identity;
  return {
    subject: headers.subject,
    scopes: headers.scopes,
    clientId: headers.client_id,
    proof: proof.header,
  };
}

function issuerOptions(issuer: JwtIssuerConfig, file: AuthKeyFile | undefined): JwtIssuerOptions {
  return {
    issuer: issuer.issuer,
    audiences: issuer.audiences,
    keys: keySourceOf(issuer, file),
    ...(issuer.algorithms === undefined ? {} : { algorithms: issuer.algorithms }),
    clockToleranceS: issuer.clock_tolerance / 1000,
    requireExp: issuer.require_exp,
    ...(issuer.max_age === undefined ? {} : { maxAgeS: issuer.max_age / 1000 }),
    claims: claimsOf(issuer.claims),
  };
}

function keySourceOf(issuer: JwtIssuerConfig, file: AuthKeyFile | undefined): KeySource {
  if (issuer.jwks_url !== undefined)
    return {
      kind: 'remote',
      url: issuer.jwks_url,
      maxAgeMs: issuer.jwks_max_age,
      cooldownMs: issuer.jwks_cooldown,
      timeoutMs: issuer.jwks_timeout,
    };
  if (issuer.secret !== undefined)
    return { kind: 'secret', secret: new TextEncoder().encode(issuer.secret) };
  // The loader read the file, or refused the config: a file source always has its contents.
  const read = file as AuthKeyFile;
  return read.kind === 'jwks'
    ? { kind: 'jwks', jwks: read.jwks }
    : { kind: 'pem', pem: read.pem, alg: issuer.algorithms?.[0] as string };
}

function claimsOf(claims: AuthConfig['jwt'][number]['claims']) {
  return { subject: claims.subject, scopes: claims.scopes, clientId: claims.client_id };
}

/** The gateway's proof to backends, made once at start: its keys outlive every snapshot. */
export interface GatewayProof {
  readonly names: IdentityHeaderNames;
  readonly proof: IdentityProof | undefined;
  /** The public keys backends verify `jwt` proofs with (`/.well-known/jwks.json`). */
  jwks(): GatewayJwks | undefined;
  close(): void;
}

export function createGatewayProof(auth: Pick<AuthConfig, 'identity'>): GatewayProof {
  const names = identityNamesOf(auth);
  const settings = auth.identity.proof;
  switch (settings.mode) {
    case 'jwt': {
      const tokens = new GatewayTokens({
        issuer: settings.issuer,
        audience: settings.audience,
        lifetimeS: Math.max(1, Math.round(settings.lifetime / 1000)),
        rotateEveryMs: settings.rotate_every,
      });
      return { names, proof: tokens, jwks: () => tokens.jwks(), close: () => tokens.close() };
    }
    case 'hmac':
      return {
        names,
        // The schema requires a secret with this mode.
        proof: new SharedSecretProof({ secret: settings.secret as string, names }),
        jwks: () => undefined,
        close: () => {},
      };
    case 'none':
      return { names, proof: undefined, jwks: () => undefined, close: () => {} };
  }
}
