import { GrpcChannels } from '../adapters/grpc/channels.ts';
import { adapterRoutingUrl, composeFromConfig } from '../composition/from-config.ts';
import { readSupergraphFile, type Supergraph } from '../composition/supergraph.ts';
import { IdentityConfig } from '../config/auth.ts';
import { JwksPool } from '../policies/auth/jwks.ts';
import { MemoryLimitStore } from '../policies/limits/stores/memory.ts';
import { BackendDispatcher } from './backend-dispatcher.ts';
import { createGatewayProof } from './credentials.ts';
import { loadConfig, type Env, type LoadedConfig } from '../config/load.ts';
import {
  assembleSnapshot,
  buildAdapters,
  buildOutbound,
  type RuntimeDeps,
  type RuntimeSnapshot,
} from './snapshot.ts';

/** Where snapshots come from: supergraph.yaml composed locally, or a supergraph file. */
export interface SupergraphSource {
  readonly description: string;
  load(deps: RuntimeDeps): Promise<RuntimeSnapshot>;
}

/** Fresh deps for a command that loads once (compose, print, serve-subgraph) and then closes them. */
export function createLoadDeps(
  identity: IdentityConfig = IdentityConfig.parse({}),
): RuntimeDeps & { close(): Promise<void> } {
  const dispatcher = new BackendDispatcher();
  const grpcChannels = new GrpcChannels();
  const jwks = new JwksPool({ dispatcher });
  // A standalone adapter (serve-subgraph) calls backends as the gateway does, with its proof.
  const proof = createGatewayProof({ identity });
  const limitStore = new MemoryLimitStore();
  return {
    dispatcher,
    grpcChannels,
    jwks,
    limitStore,
    identity: { names: proof.names, proof: proof.proof },
    async close() {
      proof.close();
      jwks.close();
      await limitStore.close();
      grpcChannels.close();
      await dispatcher.closeAll();
    },
  };
}

/**
 * supergraph.yaml (and the schema files it names), validated and composed at every load. The
 * config the command line already loaded serves the first load, so a start reads it once;
 * reloads read the file again.
 */
export function configSource(file: string, env: Env, first?: LoadedConfig): SupergraphSource {
  let initial = first;
  return {
    description: file,
    async load(deps) {
      const loaded = initial ?? (await loadConfig(file, env));
      initial = undefined;
      const outbound = buildOutbound(deps, loaded.config);
      const adapters = buildAdapters(loaded, outbound, deps);
      const graph = await composeFromConfig(loaded, adapters);
      const snapshot = assembleSnapshot(loaded, graph, adapters, outbound, loaded.watchFiles, deps);
      // Keys are imported and fetched before the snapshot serves: its first requests verify.
      await snapshot.credentials.ready();
      configureBackendTls(deps, loaded);
      return snapshot;
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
      const outbound = buildOutbound(deps, loaded?.config);
      const adapters = loaded ? buildAdapters(loaded, outbound, deps) : new Map();
      const graph = { supergraph: await readSupergraphFile(file), hints: [] };
      refuseUnservedAdapters(file, graph.supergraph, adapters, loaded);
      const snapshot = assembleSnapshot(loaded, graph, adapters, outbound, [file], deps);
      await snapshot.credentials.ready();
      if (loaded) configureBackendTls(deps, loaded);
      return snapshot;
    },
  };
}

/**
 * A supergraph `gateway compose` wrote routes its REST and gRPC subgraphs to a reserved name
 * that never resolves (`<name>.adapter.invalid`): the gateway runs those adapters in-process
 * from the config that describes them. Served without that config, every adapter field would
 * fail at request time; the load fails here instead, naming the subgraphs and the two ways out.
 */
function refuseUnservedAdapters(
  file: string,
  supergraph: Supergraph,
  adapters: ReadonlyMap<string, unknown>,
  loaded: LoadedConfig | undefined,
): void {
  const unserved = supergraph.subgraphs.filter(
    (subgraph) => subgraph.url === adapterRoutingUrl(subgraph.name) && !adapters.has(subgraph.name),
  );
  if (unserved.length === 0) return;
  const names = unserved.map((subgraph) => subgraph.name).join(', ');
  const config = loaded ? `${loaded.file} does not describe` : 'no --config describes';
  throw new Error(
    `${file}: subgraph${unserved.length === 1 ? '' : 's'} ${names} ${unserved.length === 1 ? 'is a REST or gRPC adapter' : 'are REST or gRPC adapters'} ` +
      `the gateway runs in-process, and ${config} ${unserved.length === 1 ? 'it' : 'them'}: ` +
      `start with --config <the supergraph.yaml that composed it> beside --supergraph, ` +
      `or run each adapter standalone (gateway serve-subgraph <name>) and compose with its routing_url.`,
  );
}

/**
 * TLS to HTTP backends is set on the shared dispatcher, by origin, once the load has all but
 * succeeded (a load that fails earlier leaves the settings as they were).
 */
function configureBackendTls(deps: RuntimeDeps, loaded: LoadedConfig): void {
  if (deps.dispatcher instanceof BackendDispatcher) deps.dispatcher.configure(loaded.backendTls);
}
