import type { RequestContext } from './context.ts';

/**
 * Backends' `Cache-Control` answers, noted where each answer is read (a subgraph fetch, a REST
 * adapter's call) and read by the cache (policies/cache): an answer a backend marks `private`,
 * `no-store` or short-lived narrows what the gateway may keep. Kept here, out of the request
 * context, so a request that notes nothing allocates nothing.
 *
 * Noted per operation, and on every operation above it (a BFF resolver's sub-operations reach
 * the request that ran them). The entity cache narrows each fetch's entries by the whole
 * operation's answers so far, not the fetch's alone: an adapter's backend calls are batched
 * across the fetches of an operation (DataLoader), so which fetch an answer served cannot be
 * told, and narrowing too much costs hits while narrowing too little could share private data.
 */
const noted = new WeakMap<RequestContext, BackendCacheControl[]>();

/** One backend answer's `Cache-Control`, with the backend that gave it. */
export interface BackendCacheControl {
  /** The subgraph or REST source's name, as the config names it. */
  readonly backend: string;
  readonly value: string;
}

/** Notes one backend answer's `Cache-Control` (none: nothing to note). */
export function noteCacheControl(
  ctx: RequestContext,
  backend: string,
  header: string | readonly string[] | undefined,
): void {
  if (header === undefined) return;
  const answer = { backend, value: typeof header === 'string' ? header : header.join(', ') };
  for (let at: RequestContext | undefined = ctx; at; at = at.parent) {
    const list = noted.get(at);
    if (list) list.push(answer);
    else noted.set(at, [answer]);
  }
}

/** The `Cache-Control` answers noted for this operation so far. */
export function cacheControlOf(ctx: RequestContext): readonly BackendCacheControl[] {
  return noted.get(ctx) ?? [];
}
