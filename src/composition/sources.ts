import { Agent } from 'undici';
import { GrpcChannels } from '../adapters/grpc/channels.ts';
import { createAdapter, type AdapterDeps, type AdapterSubgraph } from '../adapters/adapter.ts';
import { readSupergraphFile, type Supergraph } from './supergraph.ts';
import { composeFromConfig } from './from-config.ts';
import type { CompositionProblem } from './compose.ts';
import { loadConfig, type LoadedConfig } from '../config/load.ts';
import { GrpcServerConfig, LimitsConfig, type SubgraphConfig } from '../config/schema.ts';
import { createRouteTable, type RouteTable } from '../routes/route-table.ts';
import { createGrpcFront, type GrpcFront } from '../translate/grpc-to-rest.ts';
import { createTranscoder, type Transcoder } from '../translate/transcoder.ts';

/** One loaded state of the graph: what is served and the settings that came with it. */
export interface SupergraphSnapshot {
  readonly supergraph: Supergraph;
  readonly hints: readonly CompositionProblem[];
  /** Per-subgraph settings by name; a subgraph without an entry uses the defaults. */
  readonly subgraphs: Readonly<Record<string, SubgraphConfig>>;
  /** Files whose change triggers a reload (absolute paths). */
  readonly watchFiles: readonly string[];
  /**
   * The server, log, metrics, tracing, circuit_breaker and grpc_server sections (services
   * included: the gRPC port's methods are fixed when it opens), serialised: they apply at start
   * only, so a reload compares them.
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
}

/** What loading needs from the running gateway: the pools and channels adapters call through. */
export type LoadDeps = AdapterDeps;

/** Fresh deps for a command that loads once (compose, print, serve-subgraph) and then closes them. */
export function createLoadDeps(): LoadDeps & { close(): Promise<void> } {
  const dispatcher = new Agent();
  const grpcChannels = new GrpcChannels();
  return {
    dispatcher,
    grpcChannels,
    async close() {
      grpcChannels.close();
      await dispatcher.close();
    },
  };
}

/** Where snapshots come from: supergraph.yaml composed locally, or a supergraph file. */
export interface SupergraphSource {
  readonly description: string;
  load(deps: LoadDeps): Promise<SupergraphSnapshot>;
}

/** Every subgraph with a `source` becomes an in-process adapter; its SDL errors are config errors. */
export function buildAdapters(loaded: LoadedConfig, deps: LoadDeps): Map<string, AdapterSubgraph> {
  const adapters = new Map<string, AdapterSubgraph>();
  for (const [name, subgraph] of Object.entries(loaded.config.subgraphs)) {
    const schema = loaded.schemas.get(name);
    if (!subgraph.source || !schema || schema.kind === 'subgraph_url') continue;
    adapters.set(name, createAdapter({ name, source: subgraph.source, schema, deps }));
  }
  return adapters;
}

/** What adapters could not map faithfully, logged with composition hints at every load. */
function adapterWarnings(adapters: ReadonlyMap<string, AdapterSubgraph>): CompositionProblem[] {
  return [...adapters].flatMap(([name, adapter]) =>
    adapter.warnings.map((message) => ({
      code: 'ADAPTER_UNSUPPORTED',
      message: `subgraph ${name}: ${message}`,
      locations: [],
    })),
  );
}

/** The REST and gRPC-translation surfaces a config declares (none without a config). */
function buildSurfaces(loaded: LoadedConfig | undefined, deps: LoadDeps) {
  return {
    transcoder: createTranscoder({
      entries: loaded?.transcode ?? new Map(),
      channels: deps.grpcChannels,
      configFile: loaded?.file ?? '',
    }),
    routes: createRouteTable(loaded?.config.routes ?? []),
    ...(loaded && loaded.grpcServices.size > 0
      ? { grpcFront: createGrpcFront(loaded.grpcServices, loaded.file) }
      : {}),
    grpcServer: loaded?.config.grpc_server ?? GrpcServerConfig.parse({}),
    limits: loaded?.config.limits ?? LimitsConfig.parse({}),
  };
}

function frontWarnings(front: GrpcFront | undefined): CompositionProblem[] {
  return (front?.warnings ?? []).map((message) => ({
    code: 'GRPC_SERVER_UNSUPPORTED',
    message: `grpc_server: ${message}`,
    locations: [],
  }));
}

/** The sections read once at start (see `SupergraphSnapshot.startupSettings`). */
function startupSettings(loaded: LoadedConfig | undefined): string {
  const config = loaded?.config;
  return JSON.stringify([
    config?.server,
    config?.log,
    config?.metrics,
    config?.tracing,
    config?.circuit_breaker,
    config?.grpc_server,
  ]);
}

/** supergraph.yaml (and the schema files it names), validated and composed at every load. */
export function configSource(
  file: string,
  env: Record<string, string | undefined>,
): SupergraphSource {
  return {
    description: file,
    async load(deps) {
      const loaded = await loadConfig(file, env);
      const adapters = buildAdapters(loaded, deps);
      const { supergraph, hints } = await composeFromConfig(loaded, adapters);
      const surfaces = buildSurfaces(loaded, deps);
      return {
        supergraph,
        hints: [...hints, ...adapterWarnings(adapters), ...frontWarnings(surfaces.grpcFront)],
        subgraphs: loaded.config.subgraphs,
        watchFiles: loaded.watchFiles,
        startupSettings: startupSettings(loaded),
        adapters,
        ...surfaces,
      };
    },
  };
}

/**
 * A supergraph composed elsewhere (rover, `gateway compose`). Routing URLs come from the
 * supergraph itself; a config, when given, still supplies server settings and per-subgraph
 * settings by name.
 */
export function supergraphFileSource(file: string, loaded?: LoadedConfig): SupergraphSource {
  return {
    description: file,
    async load(deps) {
      return {
        supergraph: await readSupergraphFile(file),
        hints: [],
        subgraphs: loaded?.config.subgraphs ?? {},
        watchFiles: [file],
        startupSettings: startupSettings(loaded),
        adapters: loaded ? buildAdapters(loaded, deps) : new Map(),
        ...buildSurfaces(loaded, deps),
      };
    },
  };
}
