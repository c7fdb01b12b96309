import type { ServerResponse } from 'node:http';
import { isClientSafe, type GatewayError } from '../kernel/errors.ts';
import { statusOfGatewayError } from '../translate/status-map.ts';

export const GRAPHQL_RESPONSE_JSON = 'application/graphql-response+json; charset=utf-8';
export const APPLICATION_JSON = 'application/json; charset=utf-8';

/**
 * The media type for a GraphQL response: `application/graphql-response+json` when the client
 * lists it at least as high as `application/json`, else `application/json` (which legacy clients
 * and a missing Accept header get). https://graphql.github.io/graphql-over-http/draft/#sec-Accept
 */
export function graphQLMediaType(accept: string | undefined): string {
  if (!accept) return APPLICATION_JSON;
  let best = APPLICATION_JSON;
  let bestQ = -1;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.trim().split(';');
    const q = Number(params.find((p) => p.trim().startsWith('q='))?.split('=')[1] ?? 1);
    const media = type.trim().toLowerCase();
    if (media === 'application/graphql-response+json' && q > bestQ) {
      best = GRAPHQL_RESPONSE_JSON;
      bestQ = q;
    } else if ((media === 'application/json' || media === '*/*') && q > bestQ) {
      best = APPLICATION_JSON;
      bestQ = q;
    }
  }
  return best;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  contentType = APPLICATION_JSON,
): void {
  const payload = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('content-type', contentType);
  res.setHeader('content-length', Buffer.byteLength(payload));
  res.end(payload);
}

/**
 * A request-level GraphQL error: no `data`, one error with its code, the error's HTTP status. An
 * error whose message is not written for clients (an internal failure, masked at its source)
 * carries the correlation id to quote when reporting it.
 */
export function sendGraphQLError(
  res: ServerResponse,
  error: GatewayError,
  accept: string | undefined,
  correlationId?: string,
): void {
  const { http: _http, ...extensions } = error.extensions as Record<string, unknown>;
  if (correlationId && !isClientSafe(error.code)) extensions.correlationId = correlationId;
  sendJson(
    res,
    error.status,
    { errors: [{ message: error.message, extensions }] },
    graphQLMediaType(accept),
  );
}

/** A REST-surface error answer: the status table's HTTP status and a google.rpc.Status body. */
export function sendStatusError(
  res: ServerResponse,
  error: GatewayError,
  correlationId: string,
): void {
  const answer = statusOfGatewayError(error, correlationId);
  sendJson(res, answer.httpStatus, answer.body, APPLICATION_JSON);
}
