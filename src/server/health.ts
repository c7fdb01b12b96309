import type { ServerResponse } from 'node:http';
import type { SupergraphManager } from '../gateway/supergraph-manager.ts';
import { sendJson } from './respond.ts';

/** Liveness: the process answers. It says nothing about the graph, so restarts stay rare. */
export function serveHealthz(res: ServerResponse): void {
  sendJson(res, 200, { status: 'ok' });
}

/**
 * Readiness: a supergraph is loaded and the gateway is not draining. The body tells an operator
 * which supergraph is served and why the last reload, if it failed, did not apply; a failed
 * reload keeps the instance ready because it still serves the last good graph.
 */
export function serveReadyz(
  res: ServerResponse,
  manager: SupergraphManager,
  state: 'starting' | 'ready' | 'draining',
): void {
  const current = manager.current;
  const ready = state === 'ready' && current !== undefined;
  sendJson(res, ready ? 200 : 503, {
    status: ready ? 'ready' : state,
    supergraph: current
      ? {
          hash: current.supergraph.hash,
          subgraphs: current.supergraph.subgraphs.map((s) => s.name),
        }
      : null,
    lastReloadError: manager.lastError ?? null,
  });
}
