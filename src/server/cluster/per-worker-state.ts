import type { GatewayConfig } from '../../config/schema.ts';

/**
 * What several workers on one host do not share unless the config says so, each as the warning
 * the primary logs once at start: the setting, what it costs with `workers` processes, and the
 * setting that shares it. Workers are independent gateways; state in memory is per process.
 */
export function perWorkerWarnings(
  config: Pick<GatewayConfig, 'limits' | 'cache' | 'server' | 'auth'> | undefined,
  workers: number,
  adminListener: boolean,
): { key: string; message: string }[] {
  const warnings: { key: string; message: string }[] = [];
  const each = `each of the ${workers} workers`;
  if (!adminListener)
    warnings.push({
      key: 'server.admin',
      message: `there is no admin listener: /metrics and /readyz on the public port answer for whichever of the ${workers} workers the connection reached; enable server.admin for metrics summed over the workers and readiness of all of them`,
    });
  if (!config) return warnings;
  const rated = config.limits.rate.policies.length > 0;
  if (rated && config.limits.store.kind === 'memory')
    warnings.push({
      key: 'limits.store.kind',
      message: `limits.store.kind is memory: ${each} keeps its own budgets, so a caller may get up to ${workers}x each rate limit; set limits.store.kind: redis`,
    });
  if (config.cache.enabled && config.cache.store === 'memory')
    warnings.push({
      key: 'cache.store',
      message: `cache.store is memory: ${each} caches alone (up to ${workers}x the backend calls to fill it, ${workers}x cache.max_size of memory), and an invalidation reaches the workers through the admin listener only; set cache.store: redis`,
    });
  if (config.server.apq_cache.store === 'memory')
    warnings.push({
      key: 'server.apq_cache.store',
      message: `server.apq_cache.store is memory: a query registered through one of the ${workers} workers is unknown to the others, so clients re-send it (PERSISTED_QUERY_NOT_FOUND) up to ${workers} times; set server.apq_cache.store: redis`,
    });
  const { auth } = config;
  const identifies = auth.jwt.length > 0 || auth.api_keys !== undefined || auth.introspection;
  if (identifies && auth.identity.proof.mode === 'jwt')
    warnings.push({
      key: 'auth.identity.proof.mode',
      message: `auth.identity.proof.mode is jwt: ${each} signs with its own keys and /.well-known/jwks.json publishes only the keys of the worker that answered, so a backend may refuse another worker's proofs until it refetches; set auth.identity.proof.mode: hmac`,
    });
  return warnings;
}
