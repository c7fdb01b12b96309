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
}

export interface AdapterInput {
  name: string;
  source: NonNullable<SubgraphConfig['source']>;
  sdl: string;
  file: string;
  dispatcher: Dispatcher;
}

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
