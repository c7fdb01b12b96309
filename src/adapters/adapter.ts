import type { DocumentNode, GraphQLSchema } from 'graphql';
import type { SubgraphConfig } from '../config/schema.ts';
import type { Outbound } from '../kernel/outbound.ts';
import { UnreachableCaseError } from '../kernel/errors.ts';
import type { ResolvedSchema } from '../config/load.ts';
import type { GrpcChannels } from './grpc/channels.ts';
import { createGrpcAdapter } from './grpc/executor.ts';
import { createRestAdapter } from './rest/executor.ts';

/**
 * What every adapter gives the gateway, whatever its backend: the subgraph SDL composition sees
 * (the adapter's own directives stripped, locations kept) and an executable federation subgraph
 * schema that runs in-process.
 */
export interface AdapterSubgraph {
  readonly document: DocumentNode;
  readonly schema: GraphQLSchema;
  /** The SDL the adapter serves, as text: what `gateway rest print` shows. */
  readonly sdl: string;
  /** What the adapter could not map faithfully, by name (logged at every load). */
  readonly warnings: readonly string[];
  /** The backend's own health, where its protocol has one (grpc.health.v1); for /readyz. */
  readonly health?: () => Promise<string>;
}

/**
 * What adapters get from the snapshot they serve: the outbound chain every backend call goes
 * through, and the gRPC channels for health checks (which /readyz makes, not requests).
 */
export interface AdapterDeps {
  outbound: Outbound;
  grpcChannels: GrpcChannels;
}

export interface AdapterInput {
  name: string;
  source: NonNullable<SubgraphConfig['source']>;
  /** Where the adapter's schema comes from, as the config loader resolved it. */
  schema: Exclude<ResolvedSchema, { kind: 'subgraph_url' }>;
  deps: AdapterDeps;
}

/** The one entry point, keyed by `source.kind`. */
export function createAdapter(input: AdapterInput): AdapterSubgraph {
  const { name, source, schema, deps } = input;
  switch (source.kind) {
    case 'rest': {
      const origin =
        schema.kind === 'openapi'
          ? { openapi: schema.text }
          : schema.kind === 'grpc'
            ? undefined
            : { sdl: schema.sdl };
      if (!origin) throw new Error(`internal: REST subgraph ${name} resolved as protos`);
      return createRestAdapter({
        name,
        source,
        file: schema.file,
        outbound: deps.outbound,
        ...origin,
      });
    }
    case 'grpc':
      if (schema.kind !== 'grpc')
        throw new Error(`internal: gRPC subgraph ${name} resolved without protos`);
      return createGrpcAdapter({
        name,
        source,
        files: schema.files,
        includeDirs: schema.includeDirs,
        configFile: schema.file,
        ...(schema.overlay ? { overlay: schema.overlay } : {}),
        ...(schema.tls ? { tls: schema.tls } : {}),
        outbound: deps.outbound,
        channels: deps.grpcChannels,
      });
    default:
      throw new UnreachableCaseError(source);
  }
}
