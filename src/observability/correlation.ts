import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../kernel/context.ts';

/**
 * A client-supplied id is kept only when it is short and plain: it lands in log lines and in
 * backend headers, so anything that could forge a log field or smuggle a header is replaced.
 */
const WELL_FORMED = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** The client's id when well-formed, else a new one. */
export function correlationIdOf(given: string | string[] | undefined): string {
  return typeof given === 'string' && WELL_FORMED.test(given) ? given : randomUUID();
}

/** Stage: gives the request its correlation id, returns it to the client and sends it upstream. */
export function correlate(ctx: RequestContext): void {
  const header = ctx.correlationHeader;
  ctx.correlationId = correlationIdOf(ctx.headers[header]);
  ctx.responseHeaders.set(header, ctx.correlationId);
  ctx.upstreamHeaders[header] = ctx.correlationId;
}
