import { GraphQLError, type ASTNode } from 'graphql';

/**
 * Every code a client can see in `errors[].extensions.code`. The table with meanings, HTTP
 * statuses and fixes is docs/errors.md; keep the two in step (a unit test compares them).
 * Apollo Server's codes for parsing, validation and persisted queries are listed too: clients
 * see them, and their log level and masking are decided here like ours. Where Apollo Server
 * leaves a client's mistake uncoded (an answer of 500 or INTERNAL_SERVER_ERROR), the gateway
 * uses Apollo Router's code for it: SUBSCRIPTION_NOT_SUPPORTED, PERSISTED_QUERY_HASH_MISMATCH,
 * PERSISTED_QUERY_NOT_IN_LIST and QUERY_NOT_IN_SAFELIST (trusted documents),
 * and GRAPHQL_VALIDATION_FAILED for an operation name that names no operation
 * (apollo-router/src/spec/mod.rs, apollo-router/src/services/layers/apq.rs). Operation limits,
 * disabled introspection and batches use the Router's codes too (MAX_DEPTH_LIMIT, ...,
 * INTROSPECTION_DISABLED, BATCHING_NOT_ENABLED, BATCH_LIMIT_EXCEEDED); MAX_TOKENS_LIMIT and
 * MAX_DIRECTIVES_LIMIT are ours, named after them. Cost refusals use the Router's demand
 * control codes: COST_ESTIMATED_TOO_EXPENSIVE, and COST_QUERY_PARSE_FAILURE for a field that
 * breaks `@listSize(requireOneSlicingArgument:)` (apollo-router/src/plugins/demand_control/mod.rs).
 * An operation past an adapter's `max_calls_per_operation` gets the code Apollo Router gives a
 * connector source past `max_requests_per_operation_per_source`: REQUEST_LIMIT_EXCEEDED.
 * Timeouts use Router 2's GATEWAY_TIMEOUT, for a backend that timed out (its fields fail) and for
 * the request's own timeout (504) alike (apollo-router/src/plugins/traffic_shaping/mod.rs).
 */
export const ErrorCode = {
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
  SUBSCRIPTION_NOT_SUPPORTED: 'SUBSCRIPTION_NOT_SUPPORTED',
  PERSISTED_QUERY_NOT_FOUND: 'PERSISTED_QUERY_NOT_FOUND',
  PERSISTED_QUERY_HASH_MISMATCH: 'PERSISTED_QUERY_HASH_MISMATCH',
  PERSISTED_QUERY_NOT_IN_LIST: 'PERSISTED_QUERY_NOT_IN_LIST',
  QUERY_NOT_IN_SAFELIST: 'QUERY_NOT_IN_SAFELIST',
  MAX_TOKENS_LIMIT: 'MAX_TOKENS_LIMIT',
  MAX_DEPTH_LIMIT: 'MAX_DEPTH_LIMIT',
  MAX_HEIGHT_LIMIT: 'MAX_HEIGHT_LIMIT',
  MAX_ROOT_FIELDS_LIMIT: 'MAX_ROOT_FIELDS_LIMIT',
  MAX_ALIASES_LIMIT: 'MAX_ALIASES_LIMIT',
  MAX_DIRECTIVES_LIMIT: 'MAX_DIRECTIVES_LIMIT',
  INTROSPECTION_DISABLED: 'INTROSPECTION_DISABLED',
  COST_ESTIMATED_TOO_EXPENSIVE: 'COST_ESTIMATED_TOO_EXPENSIVE',
  COST_QUERY_PARSE_FAILURE: 'COST_QUERY_PARSE_FAILURE',
  BAD_REQUEST: 'BAD_REQUEST',
  METHOD_NOT_ALLOWED: 'METHOD_NOT_ALLOWED',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  REQUEST_HEADER_FIELDS_TOO_LARGE: 'REQUEST_HEADER_FIELDS_TOO_LARGE',
  URI_TOO_LONG: 'URI_TOO_LONG',
  BATCHING_NOT_ENABLED: 'BATCHING_NOT_ENABLED',
  BATCH_LIMIT_EXCEEDED: 'BATCH_LIMIT_EXCEEDED',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  NOT_FOUND: 'NOT_FOUND',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  AUTH_UNAVAILABLE: 'AUTH_UNAVAILABLE',
  RATE_LIMITED: 'RATE_LIMITED',
  UPSTREAM_RATE_LIMITED: 'UPSTREAM_RATE_LIMITED',
  RATE_LIMIT_UNAVAILABLE: 'RATE_LIMIT_UNAVAILABLE',
  CACHE_UNAVAILABLE: 'CACHE_UNAVAILABLE',
  SUPERGRAPH_NOT_READY: 'SUPERGRAPH_NOT_READY',
  UPSTREAM_UNAVAILABLE: 'UPSTREAM_UNAVAILABLE',
  GATEWAY_TIMEOUT: 'GATEWAY_TIMEOUT',
  UPSTREAM_ERROR: 'UPSTREAM_ERROR',
  UPSTREAM_CIRCUIT_OPEN: 'UPSTREAM_CIRCUIT_OPEN',
  SERVER_OVERLOADED: 'SERVER_OVERLOADED',
  UPSTREAM_OVERLOADED: 'UPSTREAM_OVERLOADED',
  REQUEST_LIMIT_EXCEEDED: 'REQUEST_LIMIT_EXCEEDED',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The HTTP status each code answers with when it ends a request on its own. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  [ErrorCode.GRAPHQL_PARSE_FAILED]: 400,
  [ErrorCode.GRAPHQL_VALIDATION_FAILED]: 400,
  [ErrorCode.SUBSCRIPTION_NOT_SUPPORTED]: 400,
  // Apollo Server answers a miss with 200 so that intermediaries pass the body to the client,
  // which then registers the query (the APQ protocol's normal first step).
  [ErrorCode.PERSISTED_QUERY_NOT_FOUND]: 200,
  [ErrorCode.PERSISTED_QUERY_HASH_MISMATCH]: 400,
  // Apollo Router's statuses (apollo-router/src/services/layers/persisted_queries): an id that
  // names nothing and cannot be registered is not found; a listed-only endpoint refuses others.
  [ErrorCode.PERSISTED_QUERY_NOT_IN_LIST]: 404,
  [ErrorCode.QUERY_NOT_IN_SAFELIST]: 403,
  [ErrorCode.MAX_TOKENS_LIMIT]: 400,
  [ErrorCode.MAX_DEPTH_LIMIT]: 400,
  [ErrorCode.MAX_HEIGHT_LIMIT]: 400,
  [ErrorCode.MAX_ROOT_FIELDS_LIMIT]: 400,
  [ErrorCode.MAX_ALIASES_LIMIT]: 400,
  [ErrorCode.MAX_DIRECTIVES_LIMIT]: 400,
  [ErrorCode.INTROSPECTION_DISABLED]: 400,
  [ErrorCode.COST_ESTIMATED_TOO_EXPENSIVE]: 400,
  [ErrorCode.COST_QUERY_PARSE_FAILURE]: 400,
  [ErrorCode.BAD_REQUEST]: 400,
  [ErrorCode.METHOD_NOT_ALLOWED]: 405,
  [ErrorCode.PAYLOAD_TOO_LARGE]: 413,
  [ErrorCode.REQUEST_HEADER_FIELDS_TOO_LARGE]: 431,
  [ErrorCode.URI_TOO_LONG]: 414,
  [ErrorCode.BATCHING_NOT_ENABLED]: 400,
  // Apollo Router's status for a batch over `maximum_size`: the request is well-formed JSON,
  // its content is what the gateway will not process.
  [ErrorCode.BATCH_LIMIT_EXCEEDED]: 422,
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: 415,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.BAD_USER_INPUT]: 400,
  [ErrorCode.UNAUTHENTICATED]: 401,
  [ErrorCode.FORBIDDEN]: 403,
  // The identity provider could not be asked (no keys ever fetched, introspection down): the
  // gateway cannot tell, so it neither serves nor blames the client.
  [ErrorCode.AUTH_UNAVAILABLE]: 503,
  [ErrorCode.RATE_LIMITED]: 429,
  // The backend's own limit: passed on as 429 so the client slows down, under its own code so
  // neither the client nor the gateway's metrics take it for the gateway's budgets.
  [ErrorCode.UPSTREAM_RATE_LIMITED]: 429,
  // The shared limit store did not answer and `limits.store.on_unavailable` is `refuse`: the
  // gateway cannot tell whether the caller is within its budget, and it is not the caller's fault.
  [ErrorCode.RATE_LIMIT_UNAVAILABLE]: 503,
  [ErrorCode.CACHE_UNAVAILABLE]: 503,
  [ErrorCode.SUPERGRAPH_NOT_READY]: 503,
  [ErrorCode.UPSTREAM_UNAVAILABLE]: 503,
  // A backend's timeout ends only its fields (a partial 200); the request's own timeout ends
  // the request (RequestTimeoutError), and that is when 504 is the response's status.
  [ErrorCode.GATEWAY_TIMEOUT]: 504,
  [ErrorCode.UPSTREAM_ERROR]: 502,
  [ErrorCode.UPSTREAM_CIRCUIT_OPEN]: 503,
  // Load shedding (`traffic`): the gateway, or its share of one backend, is at its cap. 503 with
  // Retry-After says "come back shortly", as Envoy's overload manager and Apollo Router's
  // load_shed answer; neither is the client's fault, nor a backend failure.
  [ErrorCode.SERVER_OVERLOADED]: 503,
  [ErrorCode.UPSTREAM_OVERLOADED]: 503,
  // An operation that needs more calls to one adapter's service than `max_calls_per_operation`:
  // the operation asks too much, like the operation limits; only the fields past the cap fail.
  [ErrorCode.REQUEST_LIMIT_EXCEEDED]: 400,
  [ErrorCode.INTERNAL_SERVER_ERROR]: 500,
};

/**
 * The google.rpc.Code each code answers with on the gRPC port and in the `code` of REST error
 * bodies (https://github.com/googleapis/googleapis/blob/master/google/rpc/code.proto).
 */
export const GRPC_CODE: Readonly<Record<ErrorCode, number>> = {
  [ErrorCode.GRAPHQL_PARSE_FAILED]: 3, // INVALID_ARGUMENT
  [ErrorCode.GRAPHQL_VALIDATION_FAILED]: 3, // INVALID_ARGUMENT
  [ErrorCode.SUBSCRIPTION_NOT_SUPPORTED]: 12, // UNIMPLEMENTED
  [ErrorCode.PERSISTED_QUERY_NOT_FOUND]: 5, // NOT_FOUND
  [ErrorCode.PERSISTED_QUERY_HASH_MISMATCH]: 3, // INVALID_ARGUMENT
  [ErrorCode.PERSISTED_QUERY_NOT_IN_LIST]: 5, // NOT_FOUND
  [ErrorCode.QUERY_NOT_IN_SAFELIST]: 7, // PERMISSION_DENIED
  [ErrorCode.MAX_TOKENS_LIMIT]: 3, // INVALID_ARGUMENT: the operation, not a quota, is at fault
  [ErrorCode.MAX_DEPTH_LIMIT]: 3, // INVALID_ARGUMENT
  [ErrorCode.MAX_HEIGHT_LIMIT]: 3, // INVALID_ARGUMENT
  [ErrorCode.MAX_ROOT_FIELDS_LIMIT]: 3, // INVALID_ARGUMENT
  [ErrorCode.MAX_ALIASES_LIMIT]: 3, // INVALID_ARGUMENT
  [ErrorCode.MAX_DIRECTIVES_LIMIT]: 3, // INVALID_ARGUMENT
  [ErrorCode.INTROSPECTION_DISABLED]: 7, // PERMISSION_DENIED
  [ErrorCode.COST_ESTIMATED_TOO_EXPENSIVE]: 3, // INVALID_ARGUMENT: the operation asks too much
  [ErrorCode.COST_QUERY_PARSE_FAILURE]: 3, // INVALID_ARGUMENT
  [ErrorCode.BAD_REQUEST]: 3, // INVALID_ARGUMENT
  [ErrorCode.METHOD_NOT_ALLOWED]: 12, // UNIMPLEMENTED
  [ErrorCode.PAYLOAD_TOO_LARGE]: 8, // RESOURCE_EXHAUSTED, as gRPC answers an oversize message
  [ErrorCode.REQUEST_HEADER_FIELDS_TOO_LARGE]: 8, // RESOURCE_EXHAUSTED, as oversize metadata
  [ErrorCode.URI_TOO_LONG]: 8, // RESOURCE_EXHAUSTED: a size limit, like the two above
  [ErrorCode.BATCHING_NOT_ENABLED]: 12, // UNIMPLEMENTED: a feature turned off
  [ErrorCode.BATCH_LIMIT_EXCEEDED]: 8, // RESOURCE_EXHAUSTED: a size limit, like PAYLOAD_TOO_LARGE
  [ErrorCode.UNSUPPORTED_MEDIA_TYPE]: 3, // INVALID_ARGUMENT
  [ErrorCode.NOT_FOUND]: 5, // NOT_FOUND
  [ErrorCode.BAD_USER_INPUT]: 3, // INVALID_ARGUMENT
  [ErrorCode.UNAUTHENTICATED]: 16, // UNAUTHENTICATED
  [ErrorCode.FORBIDDEN]: 7, // PERMISSION_DENIED
  [ErrorCode.AUTH_UNAVAILABLE]: 14, // UNAVAILABLE
  [ErrorCode.RATE_LIMITED]: 8, // RESOURCE_EXHAUSTED
  [ErrorCode.UPSTREAM_RATE_LIMITED]: 8, // RESOURCE_EXHAUSTED
  [ErrorCode.RATE_LIMIT_UNAVAILABLE]: 14, // UNAVAILABLE: retry later
  [ErrorCode.CACHE_UNAVAILABLE]: 14, // UNAVAILABLE: retry later
  [ErrorCode.SUPERGRAPH_NOT_READY]: 14, // UNAVAILABLE
  [ErrorCode.UPSTREAM_UNAVAILABLE]: 14, // UNAVAILABLE
  [ErrorCode.GATEWAY_TIMEOUT]: 4, // DEADLINE_EXCEEDED
  [ErrorCode.UPSTREAM_ERROR]: 2, // UNKNOWN: the backend's answer said nothing usable
  [ErrorCode.UPSTREAM_CIRCUIT_OPEN]: 14, // UNAVAILABLE: retry later
  [ErrorCode.SERVER_OVERLOADED]: 14, // UNAVAILABLE: retryable, with pushback (gRFC A6)
  [ErrorCode.UPSTREAM_OVERLOADED]: 14, // UNAVAILABLE: retry later
  [ErrorCode.REQUEST_LIMIT_EXCEEDED]: 3, // INVALID_ARGUMENT: the operation, not a quota, is at fault
  [ErrorCode.INTERNAL_SERVER_ERROR]: 13, // INTERNAL
};

/**
 * The reverse direction: what a backend's gRPC status means to a client of the gateway; every
 * status not listed is the backend's failure, UPSTREAM_ERROR. https://grpc.io/docs/guides/status-codes/
 */
export const CODE_OF_GRPC_STATUS: Readonly<Partial<Record<number, ErrorCode>>> = {
  5: ErrorCode.NOT_FOUND,
  3: ErrorCode.BAD_USER_INPUT, // INVALID_ARGUMENT
  16: ErrorCode.UNAUTHENTICATED,
  7: ErrorCode.FORBIDDEN, // PERMISSION_DENIED
  8: ErrorCode.UPSTREAM_RATE_LIMITED, // RESOURCE_EXHAUSTED: the backend's limit, not ours
  4: ErrorCode.GATEWAY_TIMEOUT, // DEADLINE_EXCEEDED
  14: ErrorCode.UPSTREAM_UNAVAILABLE, // UNAVAILABLE
};

/**
 * The code an HTTP error status stands for, where an answer passes through as it came (a
 * proxied route): the outcome its logs and metrics count.
 */
export function codeOfHttpStatus(status: number): ErrorCode {
  if (status >= 500) return ErrorCode.UPSTREAM_ERROR;
  switch (status) {
    case 401:
      return ErrorCode.UNAUTHENTICATED;
    case 403:
      return ErrorCode.FORBIDDEN;
    case 404:
      return ErrorCode.NOT_FOUND;
    case 405:
      return ErrorCode.METHOD_NOT_ALLOWED;
    case 413:
      return ErrorCode.PAYLOAD_TOO_LARGE;
    case 414:
      return ErrorCode.URI_TOO_LONG;
    case 415:
      return ErrorCode.UNSUPPORTED_MEDIA_TYPE;
    case 429:
      return ErrorCode.UPSTREAM_RATE_LIMITED;
    case 431:
      return ErrorCode.REQUEST_HEADER_FIELDS_TOO_LARGE;
    default:
      return ErrorCode.BAD_REQUEST;
  }
}

const isErrorCode = (code: string): code is ErrorCode => Object.hasOwn(HTTP_STATUS, code);

/**
 * Whether a code's messages are written for clients, and so survive production masking: every
 * code in the table but INTERNAL_SERVER_ERROR. A message under any other code (or none: a
 * subgraph's DOWNSTREAM_SERVICE_ERROR, an exception Apollo coded INTERNAL_SERVER_ERROR) may hold
 * stack traces, SQL, hostnames or backend URLs.
 */
export function isClientSafe(code: string): boolean {
  return isErrorCode(code) && code !== ErrorCode.INTERNAL_SERVER_ERROR;
}

/**
 * 5xx codes whose cause is reported once, where it happens, not once per request: load
 * shedding (counted, its gates' levels in metrics) and a backend with no instance taking calls
 * (its ejection logged at warn). Under a flood or an outage an error line per request would
 * bury the one that matters and spend the I/O the gateway is short of.
 */
const REPORTED_ONCE: ReadonlySet<string> = new Set([
  ErrorCode.SERVER_OVERLOADED,
  ErrorCode.UPSTREAM_CIRCUIT_OPEN,
]);

/**
 * The one log policy for errors: a code that answers 5xx (or is not in the table) means the
 * gateway or a backend failed and logs at `error`; any other code is the client's mistake or an
 * expected answer and logs at `info` (fastify's log-controller rule), as do the 5xx codes whose
 * cause is reported once elsewhere.
 */
export function logLevelOf(code: string | undefined): 'error' | 'info' {
  if (code === undefined || !isErrorCode(code)) return 'error';
  return HTTP_STATUS[code] < 500 || REPORTED_ONCE.has(code) ? 'info' : 'error';
}

export interface GatewayErrorOptions {
  /** The subgraph involved, when there is one. */
  subgraph?: string;
  /** The underlying error: logged, never sent to clients outside development. */
  cause?: unknown;
  /**
   * What a client sees in production in place of `message`, when the message names what only
   * operators should (a path template, a gRPC method): `Subgraph "users" answered 404.`. The log
   * and development keep `message` (gateway/mask-errors.ts).
   */
  publicMessage?: string;
  /** Extra extensions a client may see (never secrets, URLs or bodies). */
  extensions?: Record<string, unknown>;
  /** The response path of the field the error is about (a field error's `path`). */
  path?: readonly (string | number)[];
  /** The operation's nodes the error is about: the client sees their `locations`. */
  nodes?: readonly ASTNode[];
  /**
   * The error ends the whole request (a refusing stage, a malformed request), so its status is
   * the response's: Apollo Server applies `extensions.http` from any error to the whole
   * response. Off by default: an error below gateway/ is a field's (a failed fetch), and a
   * partial result is still a 200 (GraphQL over HTTP, "application/graphql-response+json").
   * runPipeline and the server's request handling mark what they refuse.
   */
  requestLevel?: boolean;
}

/**
 * The one error type the gateway throws. It is a GraphQLError so Apollo Server serialises it as
 * is, and it carries its code, subgraph and HTTP status in `extensions` where clients and the
 * HTTP layer read them.
 */
export class GatewayError extends GraphQLError {
  readonly code: ErrorCode;
  readonly status: number;
  /** See GatewayErrorOptions.publicMessage. */
  readonly publicMessage: string | undefined;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    const status = HTTP_STATUS[code];
    super(message, {
      originalError: options.cause instanceof Error ? options.cause : undefined,
      ...(options.path ? { path: options.path } : {}),
      ...(options.nodes ? { nodes: options.nodes } : {}),
      extensions: {
        ...options.extensions,
        code,
        ...(options.subgraph === undefined ? {} : { subgraph: options.subgraph }),
        ...(options.requestLevel ? { http: { status } } : {}),
      },
    });
    this.name = 'GatewayError';
    this.code = code;
    this.status = status;
    this.publicMessage = options.publicMessage;
  }
}

/** The same error, ending the whole request with its status (see `requestLevel`). */
export function asRequestLevel(error: GatewayError): GatewayError {
  const extensions = error.extensions as Record<string, unknown>;
  if (extensions.http === undefined) extensions.http = { status: error.status };
  return error;
}

/** A subgraph or backend could not be reached (refused, reset, DNS). */
export class UpstreamUnavailableError extends GatewayError {
  constructor(subgraph: string, cause?: unknown) {
    super(ErrorCode.UPSTREAM_UNAVAILABLE, `Subgraph "${subgraph}" is unavailable.`, {
      subgraph,
      cause,
    });
  }
}

/**
 * A subgraph or backend did not answer within its timeout: its fields fail, the rest of the
 * answer stands. GATEWAY_TIMEOUT, as Apollo Router codes a subgraph or connector that timed out.
 */
export class UpstreamTimeoutError extends GatewayError {
  constructor(subgraph: string, timeoutMs: number, cause?: unknown) {
    super(
      ErrorCode.GATEWAY_TIMEOUT,
      `Subgraph "${subgraph}" did not answer within ${timeoutMs} ms.`,
      {
        subgraph,
        cause,
      },
    );
  }
}

/**
 * The request's own budget (`server.request_timeout`) ran out before its answer was ready: the
 * whole request ends with 504 and GATEWAY_TIMEOUT, as Apollo Router answers when its router
 * timeout (`traffic_shaping.router.timeout`) elapses. No partial data: what was fetched so far
 * may be missing any field.
 */
export class RequestTimeoutError extends GatewayError {
  constructor(timeoutMs: number, cause?: unknown) {
    super(ErrorCode.GATEWAY_TIMEOUT, `The request did not complete within ${timeoutMs} ms.`, {
      cause,
      requestLevel: true,
    });
  }
}

/** A subgraph or backend answered with something other than a usable response. */
export class UpstreamError extends GatewayError {
  constructor(
    subgraph: string,
    reason: string,
    options: {
      status?: number;
      cause?: unknown;
      code?: ErrorCode;
      /** The reason as production clients read it, when `reason` names a path or a method. */
      publicReason?: string;
      /** The whole message production clients read (a backend's own, `source.errors`). */
      publicMessage?: string;
    } = {},
  ) {
    const publicMessage =
      options.publicMessage ??
      (options.publicReason === undefined
        ? undefined
        : `Subgraph "${subgraph}" ${options.publicReason}.`);
    super(options.code ?? ErrorCode.UPSTREAM_ERROR, `Subgraph "${subgraph}" ${reason}.`, {
      subgraph,
      cause: options.cause,
      ...(publicMessage === undefined ? {} : { publicMessage }),
      extensions: options.status === undefined ? {} : { upstreamStatus: options.status },
    });
  }
}

/** A malformed HTTP request: bad JSON, wrong shape, wrong media type, too large. */
export class RequestError extends GatewayError {
  constructor(
    code:
      | 'BAD_REQUEST'
      | 'PAYLOAD_TOO_LARGE'
      | 'UNSUPPORTED_MEDIA_TYPE'
      | 'REQUEST_HEADER_FIELDS_TOO_LARGE'
      | 'URI_TOO_LONG'
      | 'BATCHING_NOT_ENABLED'
      | 'BATCH_LIMIT_EXCEEDED',
    message: string,
    extensions?: Record<string, unknown>,
  ) {
    super(code, message, { requestLevel: true, ...(extensions ? { extensions } : {}) });
  }
}

/** The outcome label of a failed call or request: its code when the gateway typed it. */
export function outcomeOf(error: unknown): string {
  if (error instanceof GatewayError) return error.code;
  // Errors of other families name their outcome themselves (translate/grpc-to-rest FrontError).
  const outcome = (error as { outcome?: unknown } | undefined)?.outcome;
  return typeof outcome === 'string' ? outcome : ErrorCode.UPSTREAM_ERROR;
}

/** Wraps any thrown value as an Error so callers can rely on `.message` and `.stack`. */
export function ensureError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : `Non-error thrown: ${String(value)}`);
}

/** Closes a discriminated union: the compiler proves the default branch unreachable. */
export class UnreachableCaseError extends Error {
  constructor(value: never) {
    super(`Unreachable case: ${JSON.stringify(value)}`);
  }
}
