import { ErrorCode, UpstreamError } from '../../kernel/errors.ts';
import { select } from '../select.ts';

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

/**
 * The error for a non-2xx answer; the body goes to the log (as the cause), never to the client.
 * The message names the call (`GET /users/{args.id}`) for the log and development; production
 * clients read the subgraph and the status only. With `source.errors.message`, the string at that
 * path of a JSON body is the service's own word: a 4xx's message everywhere, a 5xx's in the log
 * and development only (a server error's text is no more meant for clients than a stack trace).
 */
export function errorForStatus(
  subgraph: string,
  status: number,
  label: string,
  body: string,
  messagePath?: readonly string[],
): UpstreamError {
  const said = messagePath ? messageIn(body, messagePath) : undefined;
  return new UpstreamError(
    subgraph,
    `answered HTTP ${status} to ${label}${said === undefined ? '' : `: ${said}`}`,
    {
      status,
      code: REST_STATUS_CODES[status] ?? ErrorCode.UPSTREAM_ERROR,
      cause: new Error(`HTTP ${status}: ${body.slice(0, 2048)}`),
      ...(said !== undefined && status < 500
        ? { publicMessage: said }
        : { publicReason: `answered ${status}` }),
    },
  );
}

/** A non-empty string at `path` of a JSON body, if the body is JSON and has one. */
function messageIn(body: string, path: readonly string[]): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return undefined;
  }
  const value = select(json, path);
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}
