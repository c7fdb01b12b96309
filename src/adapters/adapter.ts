import type { SubgraphConfig } from '../config/schema.ts';
import { UnreachableCaseError } from '../kernel/errors.ts';
import type { ResolvedSchema } from '../config/load.ts';
import { createGrpcAdapter } from './grpc/executor.ts';
import { createRestAdapter } from './rest/executor.ts';
import type { AdapterDeps, AdapterSubgraph } from './subgraph.ts';

export interface AdapterInput {
  name: string;
  /** A BFF subgraph (`bff`) is no adapter: runtime/ builds it with bff/aggregation. */
  source: Exclude<NonNullable<SubgraphConfig['source']>, { kind: 'bff' }>;
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
