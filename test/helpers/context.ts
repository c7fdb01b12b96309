import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import {
  createRequestContext,
  createScope,
  type RequestContext,
} from '../../src/kernel/context.ts';
import type { RuntimeSnapshot } from '../../src/runtime/snapshot.ts';

/**
 * A bare request context for calling the outbound chain directly: `timeoutMs` of budget from
 * now, the given client headers, no snapshot (the chain reads none).
 */
export function chainContext(
  timeoutMs = 30_000,
  headers: IncomingHttpHeaders = {},
): RequestContext {
  return createRequestContext({
    scope: createScope(),
    snapshot: {} as RuntimeSnapshot,
    surface: 'rest',
    clientAddress: '127.0.0.1',
    method: 'GET',
    path: '/',
    headers,
    startedAt: performance.now(),
    timeoutMs,
    correlationHeader: 'x-correlation-id',
  });
}
