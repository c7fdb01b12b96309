import { status as GrpcStatus } from '@grpc/grpc-js';
import { CODE_OF_GRPC_STATUS, ErrorCode, GatewayError } from '../../kernel/errors.ts';

/**
 * A failed call as a field error: the status name and number travel, the details are logged.
 * The method is named in the log and in development; production clients read the status only.
 */
export function errorForGrpcStatus(
  subgraph: string,
  method: string,
  code: number,
  details: string,
): GatewayError {
  const name = GrpcStatus[code] ?? 'UNKNOWN';
  return new GatewayError(
    CODE_OF_GRPC_STATUS[code] ?? ErrorCode.UPSTREAM_ERROR,
    `Subgraph "${subgraph}" answered ${name} to ${method}.`,
    {
      subgraph,
      publicMessage: `Subgraph "${subgraph}" answered ${name}.`,
      cause: new Error(`${name}: ${details}`),
      extensions: { grpcStatus: name, grpcCode: code },
    },
  );
}
