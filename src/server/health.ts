import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { SnapshotManager } from '../runtime/snapshot-manager.ts';
import type { UpstreamReport, Upstreams } from '../policies/traffic/upstream-registry.ts';
import { sendJson } from './respond.ts';

/** Liveness: the process answers. It says nothing about the graph, so restarts stay rare. */
export function serveHealthz(res: ServerResponse): void {
  sendJson(res, 200, { status: 'ok' });
}

/**
 * Readiness on the public port when an admin listener serves the details: the status alone, so
 * whoever reaches the port learns nothing of the graph, its backends or its files.
 */
export function servePlainReadyz(
  res: ServerResponse,
  manager: SnapshotManager,
  state: 'starting' | 'ready' | 'draining',
): void {
  const ready = state === 'ready' && manager.current !== undefined;
  sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : state });
}

/**
 * Readiness: a supergraph is loaded and the gateway is not draining. Served with these details on
 * the admin listener, or on the public port when there is none. The body tells an operator
 * which supergraph is served and why the last reload, if it failed, did not apply; a failed
 * reload keeps the instance ready because it still serves the last good graph.
 */
export async function serveReadyz(
  res: ServerResponse,
  manager: SnapshotManager,
  state: 'starting' | 'ready' | 'draining',
  backends: BackendHealthCache,
  upstreams: Pick<Upstreams, 'describe'>,
): Promise<void> {
  const current = manager.current;
  const ready = state === 'ready' && current !== undefined;
  // A backend that is down fails its own fields only: it is reported, and the gateway stays
  // ready, because it still serves everything else.
  const health = current ? await backends.read(current.adapters) : {};
  // Every backend: its instances with their state (healthy, ejected, unhealthy) and load, and a
  // gRPC backend's own grpc.health.v1 answer.
  const instances = upstreams.describe();
  const report: Record<string, { instances?: UpstreamReport[]; health?: string }> = {};
  for (const [name, upstream] of Object.entries(instances))
    report[name] = { instances: upstream.instances };
  for (const [name, answer] of Object.entries(health))
    report[name] = { ...report[name], health: answer };
  sendJson(res, ready ? 200 : 503, {
    status: ready ? 'ready' : state,
    supergraph: current
      ? {
          hash: current.supergraph.hash,
          subgraphs: current.supergraph.subgraphs.map((s) => s.name),
          // Each client's contract by the hash of its SDL: clients with one hash share a graph.
          contracts: Object.fromEntries(
            [...current.clients.byEndpoint.values()].flatMap((client) =>
              client.contract ? [[client.id, client.contract.key]] : [],
            ),
          ),
        }
      : null,
    lastReloadError: manager.lastError ?? null,
    backends: report,
  });
}

/**
 * Backend health for /readyz, asked at most once a second whatever the polling rate, so load
 * balancers polling many instances never multiply into a storm of health checks.
 */
export class BackendHealthCache {
  #at = 0;
  #value: Promise<Record<string, string>> = Promise.resolve({});

  read(
    adapters: ReadonlyMap<string, { health?: () => Promise<string> }>,
  ): Promise<Record<string, string>> {
    const now = performance.now();
    if (now - this.#at >= 1_000) {
      this.#at = now;
      this.#value = Promise.all(
        [...adapters].flatMap(([name, adapter]) =>
          adapter.health ? [adapter.health().then((h) => [name, h] as const)] : [],
        ),
      ).then(Object.fromEntries);
    }
    return this.#value;
  }
}
