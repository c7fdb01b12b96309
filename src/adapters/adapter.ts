import type { DocumentNode, GraphQLSchema } from 'graphql';
import type { Dispatcher } from 'undici';
import type { SubgraphConfig } from '../config/schema.ts';
import { UnreachableCaseError } from '../kernel/errors.ts';
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
}

export type AdapterInput = {
  name: string;
  source: NonNullable<SubgraphConfig['source']>;
  /** The file of the SDL or of the OpenAPI document, for locations. */
  file: string;
  dispatcher: Dispatcher;
} & ({ sdl: string } | { openapi: string });

/** The one entry point, keyed by `source.kind`. */
export function createAdapter(input: AdapterInput): AdapterSubgraph {
  const { source } = input;
  switch (source.kind) {
    case 'rest':
      return createRestAdapter({ ...input, source });
    default:
      throw new UnreachableCaseError(source.kind);
  }
}
