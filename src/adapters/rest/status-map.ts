import { ErrorCode, UpstreamError } from '../../kernel/errors.ts';

/**
 * What a REST status means for the GraphQL field that asked. Statuses not listed are the
 * backend's failure: UPSTREAM_ERROR. The upstream status travels in `extensions.upstreamStatus`.
 */
export const REST_STATUS_CODES: Readonly<Record<number, ErrorCode>> = {
  400: ErrorCode.BAD_USER_INPUT,
  401: ErrorCode.UNAUTHENTICATED,
  403: ErrorCode.FORBIDDEN,
  404: ErrorCode.NOT_FOUND,
  422: ErrorCode.BAD_USER_INPUT,
  429: ErrorCode.UPSTREAM_RATE_LIMITED,
};

/** The error for a non-2xx answer; the body goes to the log (as the cause), never to the client. */
export function errorForStatus(
  subgraph: string,
  status: number,
  label: string,
  body: string,
): UpstreamError {
  return new UpstreamError(subgraph, `answered HTTP ${status} to ${label}`, {
    status,
    code: REST_STATUS_CODES[status] ?? ErrorCode.UPSTREAM_ERROR,
    cause: new Error(`HTTP ${status}: ${body.slice(0, 2048)}`),
  });
}
