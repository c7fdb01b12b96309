import type { GraphQLFormattedError } from 'graphql';
import { ErrorCode } from '../kernel/errors.ts';

/**
 * Codes whose messages are written for clients: Apollo Server's request errors and ours, except
 * INTERNAL_SERVER_ERROR. A message under any other code (or none) may hold stack traces, SQL,
 * hostnames or backend URLs, so production replaces it.
 */
const CLIENT_SAFE_CODES: ReadonlySet<string> = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  ...Object.values(ErrorCode).filter((code) => code !== ErrorCode.INTERNAL_SERVER_ERROR),
]);

/** Whether a code's messages are written for clients (and so survive production masking). */
export function isClientSafe(code: string): boolean {
  return CLIENT_SAFE_CODES.has(code);
}

/** Extensions that carry upstream detail: Apollo Gateway's `response` holds URL, status and body. */
const INTERNAL_EXTENSIONS = ['response', 'exception', 'stacktrace'];

/**
 * Apollo Server `formatError` for production: keeps code, path, locations and subgraph name so a
 * client can act on the error and an operator can find it, drops everything else. The full error
 * is logged by errorLogPlugin before this runs.
 */
export function maskError(formatted: GraphQLFormattedError): GraphQLFormattedError {
  const extensions: Record<string, unknown> = { ...formatted.extensions };
  for (const key of INTERNAL_EXTENSIONS) delete extensions[key];
  const code =
    typeof extensions.code === 'string' ? extensions.code : ErrorCode.INTERNAL_SERVER_ERROR;
  extensions.code = code;
  if (CLIENT_SAFE_CODES.has(code)) return { ...formatted, extensions };
  const subgraph = extensions.serviceName ?? extensions.subgraph;
  return {
    ...formatted,
    message:
      typeof subgraph === 'string'
        ? `Subgraph "${subgraph}" returned an error.`
        : 'Internal server error.',
    extensions,
  };
}
