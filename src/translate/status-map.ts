import { status as GrpcStatus } from '@grpc/grpc-js';
import { CODE_OF_GRPC_STATUS, ErrorCode, type GatewayError, GRPC_CODE } from '../kernel/errors.ts';

/**
 * gRPC status <-> HTTP status, and the google.rpc.Status body REST clients get. The table is
 * the one in google/rpc/code.proto, which grpc-gateway and Envoy's transcoder apply.
 * https://github.com/googleapis/googleapis/blob/master/google/rpc/code.proto
 */
export const HTTP_STATUS_OF_GRPC: Readonly<Record<number, number>> = {
  [GrpcStatus.OK]: 200,
  [GrpcStatus.CANCELLED]: 499,
  [GrpcStatus.UNKNOWN]: 500,
  [GrpcStatus.INVALID_ARGUMENT]: 400,
  [GrpcStatus.DEADLINE_EXCEEDED]: 504,
  [GrpcStatus.NOT_FOUND]: 404,
  [GrpcStatus.ALREADY_EXISTS]: 409,
  [GrpcStatus.PERMISSION_DENIED]: 403,
  [GrpcStatus.RESOURCE_EXHAUSTED]: 429,
  [GrpcStatus.FAILED_PRECONDITION]: 400,
  [GrpcStatus.ABORTED]: 409,
  [GrpcStatus.OUT_OF_RANGE]: 400,
  [GrpcStatus.UNIMPLEMENTED]: 501,
  [GrpcStatus.INTERNAL]: 500,
  [GrpcStatus.UNAVAILABLE]: 503,
  [GrpcStatus.DATA_LOSS]: 500,
  [GrpcStatus.UNAUTHENTICATED]: 401,
};

/**
 * A REST backend's HTTP status as the gRPC status its caller gets: the reverse of the table
 * above where it is one-to-one, the class default elsewhere.
 */
export function grpcStatusOfHttp(status: number): GrpcStatus {
  switch (status) {
    case 400:
    case 422:
      return GrpcStatus.INVALID_ARGUMENT;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.NOT_FOUND;
    case 409:
      return GrpcStatus.ALREADY_EXISTS;
    case 412:
      return GrpcStatus.FAILED_PRECONDITION;
    case 416:
      return GrpcStatus.OUT_OF_RANGE;
    case 429:
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case 499:
      return GrpcStatus.CANCELLED;
    case 501:
      return GrpcStatus.UNIMPLEMENTED;
    case 502:
    case 503:
      return GrpcStatus.UNAVAILABLE;
    case 504:
      return GrpcStatus.DEADLINE_EXCEEDED;
    default:
      if (status >= 200 && status < 300) return GrpcStatus.OK;
      return status >= 500 ? GrpcStatus.INTERNAL : GrpcStatus.FAILED_PRECONDITION;
  }
}

/** google.rpc.Status in its JSON form. */
export interface RpcStatus {
  code: number;
  message: string;
  details: Record<string, unknown>[];
}

export interface StatusAnswer {
  httpStatus: number;
  body: RpcStatus;
}

/**
 * `details` carries a google.rpc.ErrorInfo with the gateway's code as `reason`, so REST clients
 * branch on the same names GraphQL clients see, and the correlation id to quote in a report.
 */
function errorInfo(reason: ErrorCode, correlationId: string, extra: Record<string, string> = {}) {
  return {
    '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
    reason,
    domain: 'gateway',
    metadata: { correlationId, ...extra },
  };
}

/** An error the gateway raised itself (bad input, no route, a refusing stage, a backend down). */
export function statusOfGatewayError(error: GatewayError, correlationId: string): StatusAnswer {
  const { field, policy, retryAfter } = error.extensions as {
    field?: unknown;
    policy?: unknown;
    retryAfter?: unknown;
  };
  const metadata: Record<string, string> = {};
  if (typeof field === 'string') metadata.field = field;
  if (typeof policy === 'string') metadata.policy = policy;
  const details: Record<string, unknown>[] = [errorInfo(error.code, correlationId, metadata)];
  // A refusal that waiting cures says how long, as google.rpc.RetryInfo (a Duration in JSON).
  if (typeof retryAfter === 'number')
    details.push({
      '@type': 'type.googleapis.com/google.rpc.RetryInfo',
      retryDelay: `${retryAfter}s`,
    });
  return {
    httpStatus: error.status,
    body: { code: GRPC_CODE[error.code], message: error.message, details },
  };
}

/**
 * A gRPC backend's failure for a REST client: its status and HTTP mapping are kept. Messages of
 * statuses that answer 4xx are the API's own words for the caller and pass; with `mask`
 * (production), those of server failures are replaced, since they describe the backend's insides.
 */
export function statusOfGrpcError(
  code: number,
  details: string,
  correlationId: string,
  mask: boolean,
): StatusAnswer {
  const httpStatus = HTTP_STATUS_OF_GRPC[code] ?? 500;
  const name = GrpcStatus[code] ?? 'UNKNOWN';
  const message = mask && httpStatus >= 500 ? `The backend answered ${name}.` : details;
  return {
    httpStatus,
    body: {
      code,
      message,
      // `reason` is the code GraphQL clients see for the same status; the status itself is kept.
      details: [
        errorInfo(
          CODE_OF_GRPC_STATUS[code as GrpcStatus] ?? ErrorCode.UPSTREAM_ERROR,
          correlationId,
        ),
      ],
    },
  };
}
