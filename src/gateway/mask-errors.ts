import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ErrorCode, GatewayError, isClientSafe } from '../kernel/errors.ts';

/** Extensions that carry upstream detail: Apollo Gateway's `response` holds URL, status and body. */
const INTERNAL_EXTENSIONS = ['response', 'exception', 'stacktrace'];

/**
 * graphql-js's suggestions (" Did you mean "text"?", " Did you mean the enum value "RED" or
 * "READ"?"; jsutils/didYouMean.js) end validation, argument and variable coercion messages alike,
 * and name fields, input fields, arguments and enum values a client may not know of: hidden ones,
 * or ones a contract filtered out. Quoted names never hold "?", so a suggestion ends at the first.
 */
const SUGGESTION = / ?Did you mean [^?]*\?/g;

/**
 * Apollo Server `formatError` for production: keeps code, path, locations and subgraph name so a
 * client can act on the error and an operator can find it, drops everything else, and takes
 * suggestions out of every message it keeps. A GatewayError with a `publicMessage` (an adapter's,
 * whose message names a path template or a gRPC method) is read with it, wherever it sits in the
 * `originalError` chain (graphql-js and Apollo Gateway wrap it). The full error is logged by
 * errorLogPlugin before this runs.
 */
export function maskError(
  formatted: GraphQLFormattedError,
  error?: unknown,
): GraphQLFormattedError {
  const extensions: Record<string, unknown> = { ...formatted.extensions };
  for (const key of INTERNAL_EXTENSIONS) delete extensions[key];
  const code =
    typeof extensions.code === 'string' ? extensions.code : ErrorCode.INTERNAL_SERVER_ERROR;
  extensions.code = code;
  if (isClientSafe(code)) {
    const message = publicMessageOf(error) ?? formatted.message.replace(SUGGESTION, '');
    return { ...formatted, message, extensions };
  }
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

function publicMessageOf(error: unknown): string | undefined {
  for (let at = error; at instanceof GraphQLError; at = at.originalError) {
    if (at instanceof GatewayError && at.publicMessage !== undefined) return at.publicMessage;
  }
  return undefined;
}
