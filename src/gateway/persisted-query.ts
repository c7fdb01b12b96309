import { createHash } from 'node:crypto';
import { ErrorCode, GatewayError } from '../kernel/errors.ts';

/**
 * Refuses an automatic persisted query whose `extensions.persistedQuery` cannot be honoured,
 * before Apollo Server sees it: Apollo Server refuses it too, but with an uncoded error that
 * reaches the client as INTERNAL_SERVER_ERROR (masked in production) and is logged as a failure.
 * A hash that does not match the query it comes with is refused as Apollo Router refuses it
 * (PERSISTED_QUERY_HASH_MISMATCH, 400: registering it would let one query answer for another's
 * hash). https://www.apollographql.com/docs/apollo-server/performance/apq
 *
 * `params` are the request's GraphQL parameters: the POST body, or for GET the query string's
 * (where `extensions` is JSON text). Anything malformed is left to Apollo Server's own checks.
 */
export function persistedQueryError(params: unknown): GatewayError | undefined {
  if (typeof params !== 'object' || params === null) return undefined;
  const { query, extensions } = params as { query?: unknown; extensions?: unknown };
  const persisted = (extensionsOf(extensions) as { persistedQuery?: unknown } | undefined)
    ?.persistedQuery;
  if (typeof persisted !== 'object' || persisted === null) return undefined;
  const { version, sha256Hash } = persisted as { version?: unknown; sha256Hash?: unknown };
  if (version !== 1) {
    return new GatewayError(
      ErrorCode.BAD_REQUEST,
      'Unsupported extensions.persistedQuery.version: the only version is 1.',
    );
  }
  if (typeof query !== 'string') return undefined;
  if (sha256Hash === createHash('sha256').update(query).digest('hex')) return undefined;
  return new GatewayError(
    ErrorCode.PERSISTED_QUERY_HASH_MISMATCH,
    'extensions.persistedQuery.sha256Hash does not match the query: send the SHA-256 of the query text in lowercase hex.',
  );
}

/** The parameters of a GET request's query string, as Apollo Server reads them. */
export function searchParamsOf(search: string): { query?: string; extensions?: string } {
  const params = new URLSearchParams(search);
  return {
    ...(params.has('query') ? { query: params.get('query') as string } : {}),
    ...(params.has('extensions') ? { extensions: params.get('extensions') as string } : {}),
  };
}

function extensionsOf(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}
