import { status as GrpcStatus } from '@grpc/grpc-js';
import { ErrorCode, GatewayError } from '../../kernel/errors.ts';

/**
 * gRPC status to the code a GraphQL client sees; every status not listed is the backend's
 * failure. https://grpc.io/docs/guides/status-codes/
 */
export const GRPC_STATUS_CODES: Readonly<Partial<Record<GrpcStatus, ErrorCode>>> = {
  [GrpcStatus.NOT_FOUND]: ErrorCode.NOT_FOUND,
  [GrpcStatus.INVALID_ARGUMENT]: ErrorCode.BAD_USER_INPUT,
  [GrpcStatus.UNAUTHENTICATED]: ErrorCode.UNAUTHENTICATED,
  [GrpcStatus.PERMISSION_DENIED]: ErrorCode.FORBIDDEN,
  [GrpcStatus.RESOURCE_EXHAUSTED]: ErrorCode.RATE_LIMITED,
  [GrpcStatus.DEADLINE_EXCEEDED]: ErrorCode.UPSTREAM_TIMEOUT,
  [GrpcStatus.UNAVAILABLE]: ErrorCode.UPSTREAM_UNAVAILABLE,
};

/** A failed call as a field error: the status name and number travel, the details are logged. */
export function errorForGrpcStatus(
  subgraph: string,
  method: string,
  code: number,
  details: string,
): GatewayError {
  const name = GrpcStatus[code] ?? 'UNKNOWN';
  return new GatewayError(
    GRPC_STATUS_CODES[code as GrpcStatus] ?? ErrorCode.UPSTREAM_ERROR,
    `Subgraph "${subgraph}" answered ${name} to ${method}.`,
    {
      subgraph,
      cause: new Error(`${name}: ${details}`),
      extensions: { grpcStatus: name, grpcCode: code },
      fieldLevel: true,
    },
  );
}
