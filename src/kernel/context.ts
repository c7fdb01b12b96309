import type { DocumentNode, GraphQLSchema } from 'graphql';
import type { IncomingHttpHeaders } from 'node:http';

/** Identifies one app (one `buildApp`) among the publishers of a process. */
export interface AppScope {
  readonly id: number;
}

let scopes = 0;
export function createScope(): AppScope {
  return { id: ++scopes };
}

/**
 * The runtime snapshot a request pins. Declared empty here and filled in where it is built
 * (runtime/snapshot.ts, by declaration merging, as fastify's decorators type its requests), so
 * the kernel depends on nothing above it.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- merged in runtime/snapshot.ts
export interface RuntimeSnapshot {}

/**
 * What the gateway knows about one request, built when it arrives and handed to every stage,
 * to Apollo Server as `contextValue`, and to every data source. Stages write to it; nothing else
 * carries per-request state (policies that need more keep it in WeakMaps keyed by this object).
 */
export interface RequestContext {
  /** The app that serves it: subscribers of the process-wide channels keep to their own. */
  readonly scope: AppScope;
  /**
   * The runtime snapshot current when the request arrived: graph, adapters, routes, transcoder,
   * cost model and outbound chain. Everything the request uses comes from here, so a reload
   * mid-request never mixes two configs.
   */
  readonly snapshot: RuntimeSnapshot;
  /** Correlation id: the client's when well-formed, else generated (see observability/correlation.ts). */
  correlationId: string;
  /** The header the correlation id travels in (`server.correlation_header`). */
  readonly correlationHeader: string;
  readonly method: string;
  /** The URL path, without the query string. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /**
   * The caller's IP address: the connection's peer, or behind trusted proxies
   * (`server.trusted_proxies`) the nearest `X-Forwarded-For` address none of them owns
   * (server/client-address.ts). What anonymous callers are told apart by (rate limits).
   */
  readonly clientAddress: string;
  /** The HTTP request as it arrived, on the HTTP port; none on the gRPC port. */
  readonly http?: HttpRequestLine;
  /** `performance.now()` when the request arrived. */
  readonly startedAt: number;
  /**
   * `performance.now()` by which the whole request must be answered (`server.request_timeout`):
   * every backend call gets at most what is left of it, so retries and fan-out never outlive the
   * client.
   */
  readonly deadline: number;
  /**
   * Headers stages add to the response, error responses included. The operations of a batch
   * share their HTTP request's map (createOperationContext), so what an operation stage sets (a
   * rate limit's headers) reaches the one response; of two operations setting the same header,
   * the later write wins.
   */
  readonly responseHeaders: Map<string, string>;
  /**
   * Headers stages set for every backend call of this request (correlation, identity). The
   * outbound chain sends them last, over anything a backend's rules pass on or insert.
   */
  readonly upstreamHeaders: Record<string, string>;
  /** What the request did, for its log line and metrics; stages and the GraphQL layer fill it. */
  readonly facts: RequestFacts;
  /**
   * What runs once when the request ends (its answer written, or its client gone): a stage that
   * holds something for the request's whole life, past its own run (an admission slot,
   * policies/traffic/load-shed.ts), gives it back here. server/inbound.ts runs them; the
   * operations of a batch share their request's.
   */
  readonly onEnd: (() => void)[];
  /** The GraphQL operation, once resolved: what `operation` stages (cost, limits) read. */
  operation?: OperationFacts;
  /**
   * Set by `authorize` when the caller may not read the whole operation (those fields come back
   * null with an error): its answer is this caller's alone, so no cache serves or stores it.
   */
  fieldsDenied?: true;
  /**
   * Who is calling, once `authenticate` verified a credential; undefined for an anonymous
   * request. The outbound chain hands it to every backend (policies/traffic/identity.ts); field
   * authorization reads it. Nothing else sets it: client headers never become identity.
   */
  identity?: Identity;
  /**
   * What the endpoint the request reached demands of its caller, when it says (a route, a
   * transcoded method, a gRPC port service; a BFF client later): set by the surface before the
   * request stages run. Undefined: the surface's default (`auth.surfaces`).
   */
  authMode?: AuthMode;
  /**
   * Whether the GraphQL endpoint the request reached serves introspection (`__schema`,
   * `__type`): set by the surface before the stages run, from `server.introspection` (a BFF
   * client's endpoint sets its own later). Anything but `true` refuses it.
   */
  introspection?: boolean;
  /**
   * The client of the GraphQL surface the request is (`clients`), once `identifyClient` picked
   * it; undefined when no client is configured or none matches. Later stages read their
   * policies from it rather than from the snapshot's global ones.
   */
  client?: ClientProfile;
  /**
   * The answer a request stage gave in place of the surface's (Envoy's local reply): a CORS
   * preflight's. The pipeline runs no later stage, and the surface answers this status with
   * `responseHeaders` and no body. Not an error: nothing is logged as failed; the request's log
   * line and metrics have the status (a refused preflight's 403).
   */
  reply?: { readonly status: number };
  /**
   * On an operation of a batch: the HTTP request it came in, whose request stages it passed
   * and whose answer carries its result (createOperationContext). Undefined on a request.
   */
  readonly parent?: RequestContext;
  /**
   * On an operation a BFF resolver ran for its request (bff/aggregation): how deep it is (1 for
   * one the request's own resolvers ran). The operation stages judge and charge it as the
   * caller's, except budgets counted in requests: the request was counted once already.
   */
  readonly subOperation?: number;
}

/**
 * A configured client with its policies resolved against the global ones, once per loaded config
 * (bff/clients.ts): what the stages read of `ctx.client`.
 */
export interface ClientProfile {
  /** Its id: log lines and metric labels name it. */
  readonly id: string;
  /** What its endpoint demands of callers; undefined: the GraphQL surface's default. */
  readonly authMode: AuthMode | undefined;
  readonly introspection: boolean;
  /** The global limits with its own overrides applied. */
  readonly limits: RuntimeSnapshot extends { limits: infer L } ? L : never;
  /** Its own `persisted_documents` with its manifest read, or else the top-level ones. */
  readonly persistedDocuments: RuntimeSnapshot extends { persistedDocuments: infer P } ? P : never;
  /** Its contract (bff/contracts.ts): the schema its endpoint serves; none: the whole graph. */
  readonly contract:
    (RuntimeSnapshot extends { contracts: ReadonlyMap<string, infer C> } ? C : never) | undefined;
  /** Its own `cors` compiled, or else the top-level one; undefined: no CORS on its endpoint. */
  readonly cors: RuntimeSnapshot extends { cors: infer C } ? C : never;
}

/** What the `httpLimits` stage measures of an HTTP request, as the client sent it. */
export interface HttpRequestLine {
  /** The request target: path and query string. */
  readonly url: string;
  /** Header names and values in the order sent, repeated ones included (Node's `rawHeaders`). */
  readonly rawHeaders: readonly string[];
}

/** `required`: no credential, no service; `optional`: verified when presented; `none`: not read. */
export type AuthMode = 'required' | 'optional' | 'none';

/** A caller the gateway verified: a JWT, an introspected OAuth token or an API key. */
export interface Identity {
  /** How the caller proved who it is. */
  readonly kind: 'jwt' | 'opaque' | 'api_key';
  /** The token's `sub`, or the API key entry's name. */
  readonly subject: string;
  /** The token's `iss`; none for an API key. */
  readonly issuer?: string;
  /** Granted scopes (`scope`/`scp` of a token, an API key's list), deduplicated. */
  readonly scopes: readonly string[];
  /** The OAuth client (`client_id`, `azp`) or the API key's client id. */
  readonly clientId?: string;
  /** An API key's plan (rate budgets key on it later). */
  readonly plan?: string;
  /** The verified claims (a JWT's payload, an introspection answer); never logged whole. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** When the credential stops being valid, in seconds since the epoch. */
  readonly expiresAt?: number;
}

/** A resolved GraphQL operation and the graph it runs over. */
export interface OperationFacts {
  readonly document: DocumentNode;
  readonly name: string | undefined;
  readonly variables: Readonly<Record<string, unknown>>;
  /** The schema the operation was validated against. */
  readonly schema: GraphQLSchema;
}

/** Filled as the request runs; read once when it ends. */
export interface RequestFacts {
  /** Which surface served it. */
  surface: Surface;
  /** The REST route or binding template that matched: a bounded metric label, unlike the path. */
  route?: string;
  /** The client's name (a BFF profile or `apollographql-client-name`), bounded by the metrics. */
  client?: string;
  operationName?: string;
  /** sha256 of the GraphQL document. */
  documentHash?: string;
  /** Estimated cost, once cost estimation runs; of a batch, the sum of its operations'. */
  cost?: number;
  /** Actual cost: what the backends' results weighed, once any answered (policies/limits/cost.ts). */
  actualCost?: number;
  /**
   * Of a batch: each operation's facts, in the order of the batch. The request's own facts keep
   * what concerns the HTTP request (calls, who called, every error code).
   */
  batch?: readonly RequestFacts[];
  /**
   * How the caller was authenticated (`jwt`, `opaque`, `api_key`) or `anonymous`; a rejected
   * credential's reason (`expired`, `bad signature`...) in `authFailure`, for the log line only.
   */
  auth?: string;
  authFailure?: string;
  /** The rate policy that refused the request (`limits.rate.policies[].name`), for the log line and metrics. */
  rateLimited?: string;
  /** Backend calls in the order they ended. */
  readonly calls: { backend: string; kind: string; ms: number; outcome: string }[];
  /**
   * The backends of calls that made no call of their own: each shared an identical one in
   * flight (policies/traffic/dedup.ts), which another request's `calls` lists.
   */
  deduplicated?: string[];
  /**
   * Backend calls tried again (policies/traffic/retry.ts): the backend, the instance the failed
   * attempt went to and why; `refused` when the retry budget said no.
   */
  retries?: { backend: string; instance: string; reason: string; refused?: true }[];
  /** Error codes the client saw. */
  readonly errorCodes: Set<string>;
  /**
   * What the caches served (policies/cache): the response cache's outcome, and how many
   * entities (and root-field fetches) the entity cache answered and missed.
   */
  cache?: {
    response?: 'hit' | 'stale' | 'miss' | 'bypass';
    entities?: { hits: number; misses: number };
  };
}

export type Surface = 'graphql' | 'rest' | 'grpc';

export interface RequestArrival {
  readonly scope: AppScope;
  readonly snapshot: RuntimeSnapshot;
  readonly surface: Surface;
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly clientAddress: string;
  readonly http?: HttpRequestLine;
  /** `performance.now()` when it arrived. */
  readonly startedAt: number;
  /** `server.request_timeout`. */
  readonly timeoutMs: number;
  readonly correlationHeader: string;
}

export function createRequestContext(arrival: RequestArrival): RequestContext {
  return {
    scope: arrival.scope,
    snapshot: arrival.snapshot,
    correlationId: '',
    correlationHeader: arrival.correlationHeader,
    method: arrival.method,
    path: arrival.path,
    headers: arrival.headers,
    clientAddress: arrival.clientAddress,
    ...(arrival.http ? { http: arrival.http } : {}),
    startedAt: arrival.startedAt,
    deadline: arrival.startedAt + arrival.timeoutMs,
    responseHeaders: new Map(),
    upstreamHeaders: {},
    facts: { surface: arrival.surface, calls: [], errorCodes: new Set() },
    onEnd: [],
  };
}

/**
 * The context of one operation of a batch, made from its HTTP request's after the request stages
 * ran: the same snapshot, correlation id, identity, deadline and headers, so it is served as the
 * request would be; its own `operation` and facts (cost, operation name, error codes), so the
 * operation stages judge and charge it alone. Shared on purpose: `responseHeaders` (one
 * response), `upstreamHeaders` (set by request stages) and the list of backend calls (the
 * request's log line lists them all).
 */
export function createOperationContext(request: RequestContext): RequestContext {
  const { operation: _operation, ...shared } = request;
  return {
    ...shared,
    parent: request,
    facts: { ...request.facts, errorCodes: new Set() },
  };
}

/**
 * The context of an operation a BFF resolver runs against the graph for its request: an
 * operation of the request as a batch's are (same caller, client, deadline, snapshot), marked
 * so that request-count budgets do not count it as another request.
 */
export function createSubOperationContext(request: RequestContext): RequestContext {
  return { ...createOperationContext(request), subOperation: (request.subOperation ?? 0) + 1 };
}
