import type { GatewayGraphQLRequestContext } from '@apollo/server-gateway-interface';

interface CacheHint {
  maxAge: number;
  scope?: 'PUBLIC' | 'PRIVATE';
}

/**
 * Narrows the operation's cache policy by a subgraph's `Cache-Control` response header, as
 * RemoteGraphQLDataSource does: the response is cacheable only as long as, and only as publicly
 * as, its least cacheable fetch allows. A subgraph without the header makes the operation
 * uncacheable (max-age 0). https://www.rfc-editor.org/rfc/rfc9111#section-5.2.2
 */
export function restrictCachePolicy(
  requestContext: GatewayGraphQLRequestContext,
  header: string | string[] | undefined,
): void {
  const policy = requestContext.overallCachePolicy as unknown;
  if (!policy || typeof policy !== 'object' || !('restrict' in policy)) return;
  (policy as { restrict(hint: CacheHint): void }).restrict(parseCacheHint(header));
}

export function parseCacheHint(header: string | string[] | undefined): CacheHint {
  const hint: CacheHint = { maxAge: 0 };
  if (!header) return hint;
  for (const part of String(header).split(',')) {
    const [rawKey = '', rawValue] = part.split('=', 2);
    const key = rawKey.trim().toLowerCase();
    const value = rawValue?.trim().replace(/^"|"$/g, '');
    if (key === 'max-age' && value !== undefined && /^\d+$/.test(value))
      hint.maxAge = Number(value);
    else if (key === 'private') hint.scope = 'PRIVATE';
    else if (key === 'public' && hint.scope === undefined) hint.scope = 'PUBLIC';
  }
  return hint;
}
