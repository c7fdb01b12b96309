import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import {
  execute,
  GraphQLError,
  parse,
  validate,
  type DocumentNode,
  type GraphQLSchema,
} from 'graphql';
import type { RequestContext } from '../../kernel/context.ts';

/** Plans send a handful of distinct fetch queries; cache that many parsed documents per schema. */
const MAX_DOCUMENTS = 1_000;

/**
 * Executes a subgraph fetch in-process against an adapter's schema: no HTTP hop, and each
 * distinct fetch query is parsed and validated once per schema rather than once per request
 * (what Apollo's LocalGraphQLDataSource does). The gateway's request context is the execution
 * context, so adapters see the request's headers and stage-set upstream headers.
 */
export class LocalDataSource implements GraphQLDataSource<RequestContext> {
  readonly #documents = new WeakMap<
    GraphQLSchema,
    Map<string, DocumentNode | readonly GraphQLError[]>
  >();

  /** The subgraph it serves: its adapter comes from the request's snapshot. */
  readonly name: string;

  constructor(name: string) {
    this.name = name;
  }

  process(
    options: GraphQLDataSourceProcessOptions<RequestContext>,
  ): Promise<GatewayGraphQLResponse> {
    if (!('incomingRequestContext' in options))
      throw new Error(`internal: a fetch to ${this.name} outside a request`);
    const adapter = options.context.snapshot.adapters.get(this.name);
    if (!adapter) throw new Error(`internal: subgraph ${this.name} has no adapter`);
    return this.execute(adapter.schema, options.request, options.context);
  }

  /** Runs one operation against the adapter's schema. */
  async execute(
    schema: GraphQLSchema,
    request: { query?: string; variables?: Record<string, unknown>; operationName?: string },
    ctx: RequestContext | undefined,
  ): Promise<GatewayGraphQLResponse> {
    const document = this.#document(schema, request.query ?? '');
    if (Array.isArray(document)) return { errors: document };
    const result = await execute({
      schema,
      document: document as DocumentNode,
      variableValues: request.variables,
      operationName: request.operationName,
      contextValue: ctx,
    });
    return result as GatewayGraphQLResponse;
  }

  #document(schema: GraphQLSchema, query: string): DocumentNode | readonly GraphQLError[] {
    let cache = this.#documents.get(schema);
    if (!cache) this.#documents.set(schema, (cache = new Map()));
    let document = cache.get(query);
    if (document === undefined) {
      try {
        const parsed = parse(query);
        // Coded so production masking keeps the message: a value a scalar refused (a malformed
        // Int64, say) is the client's to fix, and the gateway's own validation cannot see it.
        const errors = validate(schema, parsed).map(
          (e) =>
            new GraphQLError(e.message, {
              nodes: e.nodes,
              extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
            }),
        );
        document = errors.length > 0 ? errors : parsed;
      } catch (error) {
        document = [error instanceof GraphQLError ? error : new GraphQLError(String(error))];
      }
      if (cache.size >= MAX_DOCUMENTS) cache.clear();
      cache.set(query, document);
    }
    return document;
  }
}
