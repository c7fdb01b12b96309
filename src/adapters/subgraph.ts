import type { DocumentNode, GraphQLSchema } from 'graphql';
import type { FieldLimit } from '../kernel/field-limit.ts';
import type { Outbound } from '../kernel/outbound.ts';
import type { GrpcChannels } from './grpc/channels.ts';

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
  /**
   * The SDL's `@rateLimit`s by `Type.field`: the snapshot has policies/limits wrap those fields
   * of `schema` (adapters do not import policies).
   */
  readonly fieldLimits: ReadonlyMap<string, FieldLimit>;
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
