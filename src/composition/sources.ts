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
}

/** Where snapshots come from: supergraph.yaml composed locally, or a supergraph file. */
export interface SupergraphSource {
  readonly description: string;
  load(): Promise<SupergraphSnapshot>;
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
    async load() {
      const loaded = await loadConfig(file, env);
      const { supergraph, hints } = await composeFromConfig(loaded);
      return {
        supergraph,
        hints,
        subgraphs: loaded.config.subgraphs,
        watchFiles: loaded.watchFiles,
        startupSettings: startupSettings(loaded),
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
    async load() {
      return {
        supergraph: await readSupergraphFile(file),
        hints: [],
        subgraphs: loaded?.config.subgraphs ?? {},
        watchFiles: [file],
        startupSettings: startupSettings(loaded),
      };
    },
  };
}
