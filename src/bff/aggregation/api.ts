import type DataLoader from 'dataloader';
import type { GraphQLFormattedError, GraphQLResolveInfo } from 'graphql';

/**
 * What a BFF subgraph's resolvers get: the API of `source.kind: bff` modules (docs/clients.md,
 * "Aggregation"). A resolvers module imports these types only; the gateway hands each resolver
 * `{ bff }` as its context, one per request.
 */

/** Variables of an operation. */
export type Variables = Readonly<Record<string, unknown>>;

/**
 * An operation's text with the types of its result and variables attached, so `bff.query`
 * infers them (`operation<{ user: User | null }, { id: string }>('query ($id: ID!) { ... }')`).
 */
export interface Operation<TData, TVariables extends Variables> {
  readonly text: string;
  /** Types only: never set. */
  readonly __types?: { data: TData; variables: TVariables };
}

/** Types an operation's text. */
export function operation<TData, TVariables extends Variables = Record<string, never>>(
  text: string,
): Operation<TData, TVariables> {
  return { text };
}

/** A call to a REST backend a BFF subgraph names in `source.rest`. */
export interface RestRequest {
  /** @default GET */
  readonly method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Below the source's `base_url`: `/users/1`. */
  readonly path: string;
  /** Query parameters; arrays join with commas, as the REST adapter sends them. */
  readonly query?: Readonly<
    Record<string, string | number | boolean | readonly (string | number)[]>
  >;
  /** Sent as JSON. */
  readonly body?: unknown;
  /**
   * What the call is, for logs, metrics and spans: a template rather than the path, which
   * holds ids (`GET /users/{id}`). @default the method and the BFF subgraph's name
   */
  readonly label?: string;
}

/** Who is calling, as the gateway verified it; undefined for an anonymous caller. */
export interface Caller {
  /** The token's `sub`, or the API key's name. */
  readonly subject: string;
  readonly scopes: readonly string[];
  readonly clientId?: string | undefined;
}

/** The helper a BFF resolver calls, one per request. */
export interface Bff {
  /** The verified caller, or undefined. Sub-operations run as this caller whatever it is. */
  readonly caller: Caller | undefined;
  /** The configured client the request came through (`clients`), or undefined. */
  readonly client: string | undefined;
  /**
   * Runs an operation against the whole federated graph as the caller, and returns its data.
   * Any error (a backend down, a field the caller may not read, a limit) rejects with the first
   * error, its code kept: thrown from a resolver, it is the error at that field's path.
   */
  query<TData = Record<string, unknown>, TVariables extends Variables = Variables>(
    document: string | Operation<TData, TVariables>,
    variables?: TVariables,
  ): Promise<TData>;
  /** As `query`, but resolves with the data and errors as they came: for partial results. */
  execute<TData = Record<string, unknown>, TVariables extends Variables = Variables>(
    document: string | Operation<TData, TVariables>,
    variables?: TVariables,
  ): Promise<{ data?: TData | null; errors?: readonly GraphQLFormattedError[] }>;
  /**
   * The request's DataLoader of this name, made on first use with `batch` and `options`: keys
   * asked for in one tick go to `batch` together, and each key is fetched once per request.
   * Never shared between requests (nor callers).
   */
  loader<K, V, C = K>(
    name: string,
    batch: DataLoader.BatchLoadFn<K, V>,
    options?: DataLoader.Options<K, V, C>,
  ): DataLoader<K, V, C>;
  /**
   * Calls the REST backend of a subgraph named in `source.rest`, through the outbound chain
   * (deadline, headers and identity, breaker) with that source's base URL, timeout and headers.
   * Resolves with the parsed JSON (null for an empty body); a non-2xx answer rejects with the
   * REST adapter's code for its status.
   */
  rest<T = unknown>(subgraph: string, request: RestRequest): Promise<T>;
}

/** The context every BFF resolver gets. */
export interface BffContext {
  readonly bff: Bff;
}

/** A field resolver of a BFF subgraph; type its parent and arguments where you write it. */
export type BffFieldResolver = (
  parent: never,
  args: never,
  context: BffContext,
  info: GraphQLResolveInfo,
) => unknown;

/** What a resolvers module exports as `resolvers`: field resolvers by type and field name. */
export type BffResolvers = Record<
  string,
  Record<string, BffFieldResolver | ((reference: never, context: BffContext) => unknown)>
>;
