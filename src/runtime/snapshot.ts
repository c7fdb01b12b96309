import { createAdapter } from '../adapters/adapter.ts';
import type { AdapterSubgraph } from '../adapters/subgraph.ts';
import type { GrpcChannels } from '../adapters/grpc/channels.ts';
import { parse } from 'graphql';
import type { CompositionProblem, SubgraphSdl } from '../composition/compose.ts';
import type { Supergraph } from '../composition/supergraph.ts';
import type { LoadedConfig, ResolvedSchema } from '../config/load.ts';
import { buildBffSubgraph } from '../bff/aggregation/subgraph.ts';
import { buildClients, type Clients } from '../bff/clients.ts';
import { buildContracts, type ContractGraph } from './contracts.ts';
import type { PersistedManifest } from '../config/manifest.ts';
import {
  type GatewayConfig,
  GrpcServerConfig,
  LimitsConfig,
  type RestSource,
  PersistedDocumentsConfig,
  ServerConfig,
  type SubgraphConfig,
  TrafficConfig,
  type SubgraphTrafficConfig,
} from '../config/schema.ts';

export interface PersistedDocuments {
  readonly settings: PersistedDocumentsConfig;
  readonly manifest: PersistedManifest;
}
import type { RuntimeSnapshot } from '../kernel/context.ts';
import type { GraphRunner } from '../kernel/graph-runner.ts';
import type {
  HeaderRules,
  IdentityHeaderNames,
  IdentityProof,
  Outbound,
} from '../kernel/outbound.ts';
import type { Credentials } from '../policies/auth/authenticate.ts';
import type { JwksPool } from '../policies/auth/jwks.ts';
import { Fills } from '../policies/cache/fills.ts';
import { buildGraphCache, type GraphCache } from '../policies/cache/graph-cache.ts';
import { hintsFromSdl } from '../policies/cache/hints.ts';
import { MemoryCacheStore } from '../policies/cache/memory-store.ts';
import type { CacheStore } from '../policies/cache/store.ts';
import { compileCors, type CorsPolicy } from '../policies/cors/cors.ts';
import { buildCredentials } from './credentials.ts';
import {
  buildAuthModel,
  sdlForApolloGateway,
  type AuthModel,
  type PolicyRule,
} from '../policies/auth/requirements.ts';
import { buildCostModel, type CostModel } from '../policies/limits/cost.ts';
import { limitFields } from '../policies/limits/field-limits.ts';
import type { LimitStore } from '../policies/limits/stores/store.ts';
import type { Upstreams } from '../policies/traffic/upstream-registry.ts';
import type { UpstreamSpec } from '../policies/traffic/upstreams.ts';
import type { PolledSubgraph } from './sdl-poller.ts';
import { upstreamSpecsOf } from './upstream-specs.ts';
import { createOutbound } from '../policies/traffic/chain.ts';
import type { DedupSettings } from '../policies/traffic/dedup.ts';
import type { GateLimits, Gates } from '../policies/traffic/gate.ts';
import { createRouteTable, type RouteTable } from '../routes/route-table.ts';
import { createGrpcFront, type GrpcFront } from '../translate/grpc-to-rest.ts';
import { createTranscoder, type Transcoder } from '../translate/transcoder.ts';
import type { Dispatcher } from 'undici';

/**
 * One loaded state of the gateway: the graph and everything that serves it, built from one
 * config in one pass and swapped whole on reload. A request pins the snapshot current when it
 * arrives (`ctx.snapshot`) and reads everything from it, so a reload mid-request never mixes two
 * configs. composition/ only composes; this is where its result meets the rest.
 */
export interface SnapshotParts {
  readonly supergraph: Supergraph;
  /**
   * The supergraph SDL as Apollo Gateway loads it: the features the gateway enforces itself
   * (field authorization) linked without their `for: SECURITY` purpose (`sdlForApolloGateway`).
   */
  readonly gatewaySdl: string;
  readonly hints: readonly CompositionProblem[];
  /** Per-subgraph settings by name; a subgraph without an entry uses the defaults. */
  readonly subgraphs: Readonly<Record<string, SubgraphConfig>>;
  /** Header rules of native subgraphs' fetches, by name (adapters keep theirs under `source`). */
  readonly subgraphHeaders: ReadonlyMap<string, HeaderRules>;
  /** Files whose change triggers a reload (absolute paths). */
  readonly watchFiles: readonly string[];
  /** Subgraphs whose SDL is read from the running service: polled for changes while served. */
  readonly polledSubgraphs: readonly PolledSubgraph[];
  /**
   * The server, log, metrics, tracing, grpc_server, auth.identity,
   * limits.store and redis settings (services included: the gRPC port's methods are fixed when
   * it opens), serialised: they apply at start only, so a reload compares them.
   */
  readonly startupSettings: string;
  /** In-process subgraphs for REST/gRPC backends, by subgraph name. */
  readonly adapters: ReadonlyMap<string, AdapterSubgraph>;
  /** gRPC services served as HTTP/JSON (`transcode`). */
  readonly transcoder: Transcoder;
  /** Plain REST routes (`routes`). */
  readonly routes: RouteTable;
  /** REST backends served on the gRPC port (`grpc_server.services`), when there are any. */
  readonly grpcFront?: GrpcFront;
  /** The gRPC port's settings: they apply at start, like `server`. */
  readonly grpcServer: GrpcServerConfig;
  /** How operations are weighed; reloads apply. */
  readonly limits: LimitsConfig;
  /** `persisted_documents` with its manifest read: what the GraphQL endpoint trusts. */
  readonly persistedDocuments: PersistedDocuments;
  /** `@cost` and `@listSize` of this supergraph, read once per load. */
  readonly costModel: CostModel;
  /** `@authenticated`, `@requiresScopes` and `@policy` of this supergraph, read once per load. */
  readonly authModel: AuthModel;
  /** The chain every backend call of this snapshot goes through. */
  readonly outbound: Outbound;
  /** The response and entity caches' settings and hints over the running gateway's store (`cache`). */
  readonly cache: GraphCache;
  /** How callers are verified (`auth`): what the `authenticate` stage reads. */
  readonly credentials: Credentials;
  /** Where rate budgets are kept: the running gateway's, so budgets outlive reloads. */
  readonly limitStore: LimitStore;
  /** Load shedding's caps (`traffic`); reloads apply. */
  readonly traffic: TrafficConfig;
  /** Every backend the config names, for the upstream registry to follow once this is served. */
  readonly upstreams: readonly UpstreamSpec[];
  /** The running gateway's admission gates, when it sheds load (the `shedLoad` stage reads them). */
  readonly gates: Gates | undefined;
  /** The GraphQL surface's clients (`clients`), their policies resolved once per load. */
  readonly clients: Clients;
  /**
   * The clients' contracts by key (`ContractGraph.key`): the graphs besides the whole one that
   * this snapshot serves, each by its own engine (gateway/engines.ts).
   */
  readonly contracts: ReadonlyMap<string, ContractGraph>;
  /**
   * The top-level `cors` compiled: the rules of every endpoint without a client of its own
   * (a client's are in its profile); undefined sends no CORS header. Reloads apply.
   */
  readonly cors: CorsPolicy | undefined;
}

declare module '../kernel/context.ts' {
  // The kernel's empty RuntimeSnapshot is this one: every request's `ctx.snapshot` is typed.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- declaration merging
  interface RuntimeSnapshot extends SnapshotParts {}
}

export type { RuntimeSnapshot };

/** What a snapshot is built with from the running gateway: pools, channels, upstreams. */
export interface RuntimeDeps {
  /** undici keep-alive pools, one per origin, shared across snapshots. */
  readonly dispatcher: Dispatcher;
  /** One gRPC channel per address, kept across reloads. */
  readonly grpcChannels: GrpcChannels;
  /**
   * Every backend's instances and their records (balancing, outlier detection, retries): the
   * running gateway's, following the served config. @default none (a standalone command)
   */
  readonly upstreams?: Upstreams | undefined;
  /** JWKS caches by URL: fetched keys outlive snapshots. */
  readonly jwks: JwksPool;
  /**
   * The names identity travels under and the gateway's proof (`auth.identity`, read at start:
   * its signing keys must outlive reloads, or backends would refuse calls mid-rotation).
   */
  readonly identity: { names: IdentityHeaderNames; proof: IdentityProof | undefined };
  /** Rate budgets (`limits.rate`): spent across snapshots, closed when the gateway stops. */
  readonly limitStore: LimitStore;
  /**
   * The cache's store (`cache.store`, opened at start) and the fills in flight: entries and
   * fills outlive snapshots. @default a small memory store of the snapshot's own (a standalone
   * command)
   */
  readonly cache?: { readonly store: CacheStore; readonly fills: Fills } | undefined;
  /**
   * Admission gates, inbound and per backend (`traffic`): their counts outlive snapshots.
   * @default none: nothing is shed (a standalone command)
   */
  readonly gates?: Gates | undefined;
  /** Wall-clock ms since the epoch, for credentials' times. @default Date.now */
  readonly wallClock?: () => number;
  /**
   * Runs BFF subgraphs' operations against the federated graph: late-bound, as the Apollo
   * Server that runs them is built once the first snapshot is (server/app.ts).
   * @default none: a BFF subgraph's operations fail (a standalone command)
   */
  readonly graph?: GraphRunner;
}

/** The graph a source produced, before the rest of the snapshot is built around it. */
export interface ComposedGraph {
  readonly supergraph: Supergraph;
  readonly hints: readonly CompositionProblem[];
  /**
   * The subgraphs' SDL, when composed here: where cache hints are read (`@cacheControl` is not
   * composed into the supergraph). None: the supergraph's own SDL is read instead.
   */
  readonly subgraphs?: readonly SubgraphSdl[];
}

/**
 * The outbound chain of a new snapshot; adapters are built with it (see `buildAdapters`). The
 * config's per-snapshot traffic keys apply (dedup; per-backend caps, `traffic.backends` and a
 * subgraph's `traffic`), without a config their defaults; the caps' counts are the running
 * gateway's.
 */
export function buildOutbound(deps: RuntimeDeps, config?: GatewayConfig): Outbound {
  return createOutbound({
    dispatcher: deps.dispatcher,
    channels: deps.grpcChannels,
    upstreams: deps.upstreams,
    identity: deps.identity,
    ...(config ? { dedup: dedupSettingsOf(config) } : {}),
    load: deps.gates && { gates: deps.gates, limitsOf: backendLimits(config) },
  });
}

/** `traffic.dedup.enabled`, and the subgraphs that override it (`subgraphs.<name>.dedup`). */
function dedupSettingsOf(config: GatewayConfig): DedupSettings {
  const backends = new Map<string, boolean>();
  for (const [name, subgraph] of Object.entries(config.subgraphs))
    if (subgraph.dedup !== undefined) backends.set(name, subgraph.dedup);
  return { enabled: config.traffic.dedup.enabled, backends };
}

/**
 * Each backend's caps: its own keys (a subgraph's, route's, transcoded or gRPC-port service's
 * `traffic`) over `traffic.backends`, resolved once per name, the name its calls carry.
 */
function backendLimits(config: GatewayConfig | undefined): (backend: string) => GateLimits {
  const defaults = config?.traffic.backends ?? TrafficConfig.parse({}).backends;
  const own = new Map<string, GateLimits>();
  const add = (name: string, traffic: SubgraphTrafficConfig | undefined) => {
    if (!traffic) return;
    const { max_in_flight, max_queued, queue_timeout } = { ...defaults, ...traffic };
    own.set(name, { max_in_flight, max_queued, queue_timeout });
  };
  for (const [name, subgraph] of Object.entries(config?.subgraphs ?? {}))
    add(name, subgraph.traffic);
  for (const [name, entry] of Object.entries(config?.transcode ?? {})) add(name, entry.traffic);
  for (const [name, service] of Object.entries(config?.grpc_server.services ?? {}))
    add(name, service.traffic);
  for (const route of config?.routes ?? []) add(route.name ?? route.path_prefix, route.traffic);
  return (backend) => own.get(backend) ?? defaults;
}

/**
 * Every subgraph with a `source` becomes an in-process adapter, its `@rateLimit` fields
 * enforced; its SDL errors are config errors.
 */
export function buildAdapters(
  loaded: LoadedConfig,
  outbound: Outbound,
  deps: RuntimeDeps,
): Map<string, AdapterSubgraph> {
  const adapters = new Map<string, AdapterSubgraph>();
  for (const [name, subgraph] of Object.entries(loaded.config.subgraphs)) {
    const schema = loaded.schemas.get(name);
    if (!subgraph.source || !schema || schema.kind === 'subgraph_url') continue;
    if (subgraph.source.kind === 'bff') {
      adapters.set(name, buildBff(loaded, name, subgraph.source.rest, schema, deps));
      continue;
    }
    const adapter = createAdapter({
      name,
      source: subgraph.source,
      schema,
      deps: { outbound, grpcChannels: deps.grpcChannels },
    });
    limitFields(adapter.schema, adapter.fieldLimits, { subgraph: name });
    adapters.set(name, adapter);
  }
  return adapters;
}

/** A BFF subgraph (`source.kind: bff`): its module was imported and checked at load. */
function buildBff(
  loaded: LoadedConfig,
  name: string,
  restNames: readonly string[],
  schema: Exclude<ResolvedSchema, { kind: 'subgraph_url' }>,
  deps: RuntimeDeps,
): AdapterSubgraph {
  const module = loaded.bffModules.get(name);
  if (!module || (schema.kind !== 'file' && schema.kind !== 'sdl'))
    throw new Error(`internal: BFF subgraph ${name} loaded without its module or SDL`);
  const rest = new Map<string, RestSource>();
  for (const target of restNames) {
    const source = loaded.config.subgraphs[target]?.source;
    if (source?.kind === 'rest') rest.set(target, source);
  }
  return buildBffSubgraph({
    name,
    sdl: schema.sdl,
    file: schema.file,
    resolvers: module.resolvers,
    graph: deps.graph ?? NO_GRAPH,
    rest,
  });
}

/** Where no gateway runs operations (`gateway serve-subgraph`): a BFF field's operations fail. */
const NO_GRAPH: GraphRunner = {
  run: () => Promise.reject(new Error('BFF operations run only inside the gateway')),
};

/**
 * The snapshot around a composed graph: the REST and gRPC surfaces the config declares, the
 * cost model, and warnings of what adapters and the gRPC port could not map (logged at every
 * load with composition's hints).
 */
export function assembleSnapshot(
  loaded: LoadedConfig | undefined,
  graph: ComposedGraph,
  adapters: ReadonlyMap<string, AdapterSubgraph>,
  outbound: Outbound,
  watchFiles: readonly string[],
  deps: RuntimeDeps,
): RuntimeSnapshot {
  const config = loaded?.config;
  const grpcFront =
    loaded && loaded.grpcServices.size > 0
      ? createGrpcFront(loaded.grpcServices, loaded.file)
      : undefined;
  const limits = config?.limits ?? LimitsConfig.parse({});
  const correlationHeader = (config?.server ?? ServerConfig.parse({})).correlation_header;
  const cors = config?.cors && compileCors(config.cors, correlationHeader);
  const clientCors = new Map(
    Object.entries(config?.clients ?? {}).flatMap(([id, client]) =>
      client.cors ? [[id, compileCors(client.cors, correlationHeader)] as const] : [],
    ),
  );
  const persistedDocuments: PersistedDocuments = {
    settings: config?.persisted_documents ?? PersistedDocumentsConfig.parse({}),
    manifest: loaded?.persistedManifest ?? new Map(),
  };
  // `@policy` names are decided by `auth.policies`; a name no rule defines denies every caller
  // and is reported at load.
  const policies = new Map<string, PolicyRule>(
    Object.entries(config?.auth.policies ?? {}).map(([name, rule]) => [
      name,
      {
        ...(rule.scopes ? { scopes: rule.scopes } : {}),
        ...(rule.claims ? { claims: rule.claims } : {}),
        ...(rule.client_ids ? { clientIds: rule.client_ids } : {}),
      },
    ]),
  );
  const auth = buildAuthModel(graph.supergraph.sdl, policies);
  const contracts = loaded
    ? buildContracts(config?.clients ?? {}, graph.supergraph.sdl, loaded.issueAt)
    : new Map<string, ContractGraph>();
  const gatewaySdl = sdlForApolloGateway(graph.supergraph.sdl);
  return {
    supergraph: graph.supergraph,
    gatewaySdl,
    hints: [
      ...graph.hints,
      ...auth.warnings.map((message) => problem('AUTH_POLICY_UNDEFINED', message)),
      ...[...adapters].flatMap(([name, adapter]) =>
        adapter.warnings.map((message) =>
          problem('ADAPTER_UNSUPPORTED', `subgraph ${name}: ${message}`),
        ),
      ),
      ...(grpcFront?.warnings ?? []).map((message) =>
        problem('GRPC_SERVER_UNSUPPORTED', `grpc_server: ${message}`),
      ),
    ],
    subgraphs: config?.subgraphs ?? {},
    subgraphHeaders: new Map(
      Object.entries(config?.subgraphs ?? {}).map(([name, settings]) => [
        name,
        { forward: settings.forward_headers, set: settings.headers },
      ]),
    ),
    watchFiles,
    polledSubgraphs: polledSubgraphsOf(loaded, graph),
    startupSettings: JSON.stringify([
      config?.server,
      config?.log,
      config?.metrics,
      config?.tracing,
      config?.grpc_server,
      config?.auth.identity,
      config?.limits.store,
      config?.redis,
      config && [config.cache.store, config.cache.max_size, config.cache.compress_above],
    ]),
    adapters,
    transcoder: createTranscoder({
      entries: loaded?.transcode ?? new Map(),
      configFile: loaded?.file ?? '',
    }),
    routes: createRouteTable(config?.routes ?? []),
    ...(grpcFront ? { grpcFront } : {}),
    grpcServer: config?.grpc_server ?? GrpcServerConfig.parse({}),
    limits,
    persistedDocuments,
    costModel: buildCostModel(graph.supergraph.sdl, limits.cost.list_size, gatewaySdl),
    authModel: auth.model,
    outbound,
    cache: buildGraphCache({
      config,
      sdlHints: hintsFromSdl(
        graph.subgraphs?.map((subgraph) => subgraph.document ?? parse(subgraph.sdl)) ?? [
          parse(graph.supergraph.sdl),
        ],
      ),
      // Apollo's own parse of the graph refuses the features it does not enforce itself
      // (`for: SECURITY`): the SDL Apollo Gateway loads is the one it builds.
      supergraphSdl: gatewaySdl,
      supergraphHash: graph.supergraph.hash,
      ...(deps.cache ?? {
        store: new MemoryCacheStore({ maxBytes: STANDALONE_CACHE_BYTES }),
        fills: new Fills(),
      }),
    }),
    credentials: buildCredentials(loaded, deps),
    limitStore: deps.limitStore,
    traffic: config?.traffic ?? TrafficConfig.parse({}),
    upstreams: upstreamSpecsOf(config, loaded),
    gates: deps.gates,
    clients: buildClients(
      config?.clients ?? {},
      config?.server ?? ServerConfig.parse({}),
      limits,
      persistedDocuments,
      loaded?.clientManifests ?? new Map(),
      contracts,
      { top: cors, own: clientCors },
    ),
    contracts: new Map([...contracts.values()].map((contract) => [contract.key, contract])),
    cors,
  };
}

/** The `subgraph_url` subgraphs of the config, with the SDL the graph was composed from. */
function polledSubgraphsOf(
  loaded: LoadedConfig | undefined,
  graph: ComposedGraph,
): PolledSubgraph[] {
  const polled: PolledSubgraph[] = [];
  for (const [name, schema] of loaded?.schemas ?? []) {
    const composed = graph.subgraphs?.find((subgraph) => subgraph.name === name);
    if (schema.kind !== 'subgraph_url' || !composed) continue;
    const { url, headers, pollMs } = schema;
    polled.push({ name, url, headers, pollMs, sdl: composed.sdl });
  }
  return polled;
}

/** A standalone command's cache store: it serves one process briefly, if at all. */
const STANDALONE_CACHE_BYTES = 8 * 1_048_576;

function problem(code: string, message: string): CompositionProblem {
  return { code, message, locations: [] };
}
