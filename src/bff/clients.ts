import {
  clientEndpoint,
  type ClientConfig,
  type LimitsConfig,
  type ServerConfig,
} from '../config/schema.ts';
import type { PersistedManifest } from '../config/manifest.ts';
import type { ClientProfile } from '../kernel/context.ts';

/**
 * The configured clients of one loaded config, resolved once (runtime/snapshot.ts) so a request
 * only looks one up: its limits are the global ones with its overrides applied, frozen objects
 * the stages read as they read the global ones (the rate limiter's per-list caches key on them).
 */
export interface Clients {
  /** How many are configured: none keeps the GraphQL surface as it is without clients. */
  readonly size: number;
  /** The GraphQL path the default client is served on (`server.graphql_path`). */
  readonly defaultPath: string;
  /** Each client by its own endpoint. */
  readonly byEndpoint: ReadonlyMap<string, ClientProfile>;
  /** The client of `server.graphql_path`, when one is the default. */
  readonly default: ClientProfile | undefined;
  /** Clients by the API key client ids they bind. */
  readonly byApiKeyClient: ReadonlyMap<string, ClientProfile>;
  /** The client a path serves before any credential is read: its own, or the default. */
  atEndpoint(path: string): ClientProfile | undefined;
}

export function buildClients(
  clients: Readonly<Record<string, ClientConfig>>,
  server: ServerConfig,
  limits: LimitsConfig,
  persistedDocuments: ClientProfile['persistedDocuments'],
  manifests: ReadonlyMap<string, PersistedManifest>,
  contracts: ReadonlyMap<string, NonNullable<ClientProfile['contract']>>,
  cors: {
    readonly top: ClientProfile['cors'];
    readonly own: ReadonlyMap<string, ClientProfile['cors']>;
  } = {
    top: undefined,
    own: new Map(),
  },
): Clients {
  const byEndpoint = new Map<string, ClientProfile>();
  const byApiKeyClient = new Map<string, ClientProfile>();
  let defaultClient: ClientProfile | undefined;
  // The GraphQL endpoint's own setting (app.ts): a client that says nothing keeps it.
  const introspection = server.introspection ?? server.mode === 'development';
  for (const [id, config] of Object.entries(clients)) {
    const profile: ClientProfile = Object.freeze({
      id,
      authMode: config.auth,
      introspection: config.introspection ?? introspection,
      limits: resolveLimits(limits, config.limits),
      // Its own trusted documents replace the top-level ones whole: its manifest, its rules.
      persistedDocuments: config.persisted_documents
        ? Object.freeze({
            settings: config.persisted_documents,
            manifest: manifests.get(id) ?? new Map(),
          })
        : persistedDocuments,
      contract: contracts.get(id),
      // Its own CORS rules replace the top-level ones whole, as its trusted documents do.
      cors: cors.own.get(id) ?? cors.top,
    });
    byEndpoint.set(clientEndpoint(server.graphql_path, id, config), profile);
    for (const keyClient of config.api_keys) byApiKeyClient.set(keyClient, profile);
    if (config.default) defaultClient = profile;
  }
  return {
    size: byEndpoint.size,
    defaultPath: server.graphql_path,
    byEndpoint,
    default: defaultClient,
    byApiKeyClient,
    atEndpoint: (path) =>
      byEndpoint.get(path) ?? (path === server.graphql_path ? defaultClient : undefined),
  };
}

/** The global limits with a client's overrides: only what it sets replaces the global value. */
function resolveLimits(limits: LimitsConfig, own: ClientConfig['limits']): LimitsConfig {
  if (!own) return limits;
  const defined = <T extends object>(o: T | undefined): Partial<T> =>
    Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
  return Object.freeze({
    ...limits,
    operation: own.operation
      ? Object.freeze({ ...limits.operation, ...defined(own.operation) })
      : limits.operation,
    cost: own.cost ? Object.freeze({ ...limits.cost, ...defined(own.cost) }) : limits.cost,
    rate: own.rate?.policies ? Object.freeze({ policies: own.rate.policies }) : limits.rate,
  });
}
