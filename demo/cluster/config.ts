// The gateway config every instance of `npm run cluster` reads: the demo's supergraph.yaml with
// what a scaled-out deployment changes (docs/deploying.md), so the three instances behave as one
// gateway: budgets, cached answers and APQ documents in one Redis, the proof to the backends
// signed with a shared secret (each instance's own JWT keys would differ), readiness that the
// balancer can follow, and the balancer trusted for the client's address.
import { createHash } from 'node:crypto';
import { parseDocument } from 'yaml';

/** The plan of the API key the cluster hands out for trying the shared budget. */
export const TRIAL_PLAN = 'trial';

export interface ClusterConfigOptions {
  /** Requests a `trial` key may make per minute, across every instance together. */
  readonly trialLimit: number;
  /** The trial API key (its SHA-256 goes into the config, never the key). */
  readonly trialKey: string;
  /** How long a draining instance keeps serving with `/readyz` at 503 (ms). */
  readonly shutdownDelayMs: number;
}

/**
 * The demo config's text with the cluster's settings set (comments kept). Secrets stay
 * variables: `${REDIS_URL}` and `${GATEWAY_PROOF_SECRET}` come from each instance's environment.
 */
export function clusterConfigText(demoText: string, options: ClusterConfigOptions): string {
  const doc = parseDocument(demoText);
  doc.setIn(
    ['redis'],
    doc.createNode({ url: '${REDIS_URL}', key_prefix: '${REDIS_KEY_PREFIX:-gateway:}' }),
  );
  doc.setIn(['limits', 'store'], doc.createNode({ kind: 'redis' }));
  // One policy for everyone, generous enough for load tests and benchmarks from one address,
  // and a small one for `trial` keys, which is what the shared budget is shown with.
  doc.setIn(
    ['limits', 'rate', 'policies'],
    doc.createNode([
      {
        name: 'per-minute',
        limit: 1_000_000,
        window: '60s',
        plans: { [TRIAL_PLAN]: options.trialLimit },
      },
    ]),
  );
  doc.setIn(
    ['auth', 'api_keys'],
    doc.createNode({
      keys: [
        {
          name: 'trial-partner',
          client_id: 'trial-partner',
          sha256: createHash('sha256').update(options.trialKey).digest('hex'),
          plan: TRIAL_PLAN,
        },
      ],
    }),
  );
  doc.setIn(
    ['auth', 'identity'],
    doc.createNode({ proof: { mode: 'hmac', secret: '${GATEWAY_PROOF_SECRET}' } }),
  );
  doc.setIn(['cache', 'store'], 'redis');
  doc.setIn(['server', 'apq_cache'], doc.createNode({ store: 'redis' }));
  doc.setIn(['server', 'mode'], 'production');
  // Longer than the balancer's check interval (fall 1), so it has taken the instance out of the
  // pool before the listener closes.
  doc.setIn(['server', 'shutdown_delay'], `${options.shutdownDelayMs}ms`);
  doc.setIn(['server', 'shutdown_timeout'], '10s');
  // Above the balancer's server-side idle time (pool-purge-delay 2s), so the balancer, not the
  // gateway, closes an idle connection: never one it is about to reuse.
  doc.setIn(['server', 'keep_alive_timeout'], '10s');
  doc.setIn(['server', 'trusted_proxies'], doc.createNode(['127.0.0.1']));
  return doc.toString();
}
