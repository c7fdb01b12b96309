import { Agent } from 'undici';
import { GrpcChannels } from '../adapters/grpc/channels.ts';
import { createAdapter, type AdapterDeps, type AdapterSubgraph } from '../adapters/adapter.ts';
import { readSupergraphFile, type Supergraph } from './supergraph.ts';
import { composeFromConfig } from './from-config.ts';
import type { CompositionProblem } from './compose.ts';
import { loadConfig, type LoadedConfig } from '../config/load.ts';
import type { SubgraphConfig } from '../config/schema.ts';

/** One loaded state of the graph: what is served and the settings that came with it. */
export interface SupergraphSnapshot {
  readonly supergraph: Supergraph;
  readonly hints: readonly CompositionProblem[];
  /** Per-subgraph settings by name; a subgraph without an entry uses the defaults. */
  readonly subgraphs: Readonly<Record<string, SubgraphConfig>>;
  /** Files whose change triggers a reload (absolute paths). */
  readonly watchFiles: readonly string[];
  /** The server and log sections, serialised: they apply at start only, so a reload compares them. */
  readonly startupSettings: string;
  /** In-process subgraphs for REST/gRPC backends, by subgraph name. */
  readonly adapters: ReadonlyMap<string, AdapterSubgraph>;
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

function startupSettings(loaded: LoadedConfig | undefined): string {
  return JSON.stringify([loaded?.config.server, loaded?.config.log]);
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
      return {
        supergraph,
        hints: [...hints, ...adapterWarnings(adapters)],
        subgraphs: loaded.config.subgraphs,
        watchFiles: loaded.watchFiles,
        startupSettings: startupSettings(loaded),
        adapters,
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
      };
    },
  };
}
