import {
  OutlierDetectionConfig,
  RetryConfig,
  type BalancePolicy,
  type HealthCheckConfig,
} from '../../src/config/schema.ts';
import type { UpstreamSpec } from '../../src/policies/traffic/upstreams.ts';

/**
 * A backend's spec for the upstream registry, as runtime/upstream-specs.ts builds it from a
 * config: `key` an HTTP origin or a gRPC `host:port`, the config's defaults, the keys given.
 */
export function upstreamSpec(
  key: string,
  own: {
    name?: string;
    instances?: string[];
    balance?: BalancePolicy;
    outlier?: Partial<OutlierDetectionConfig>;
    retries?: Partial<RetryConfig>;
    healthCheck?: HealthCheckConfig;
    dnsRefreshMs?: number;
  } = {},
): UpstreamSpec {
  const http = key.includes('://');
  const host = http ? new URL(key).host : key;
  return {
    key,
    name: own.name ?? host,
    protocol: http ? 'http' : 'grpc',
    host,
    instances: own.instances ?? [host],
    balance: own.balance ?? 'round_robin',
    outlier: { ...OutlierDetectionConfig.parse({}), ...own.outlier },
    retries: { ...RetryConfig.parse({}), ...own.retries },
    healthCheck: own.healthCheck,
    dnsRefreshMs: own.dnsRefreshMs,
  };
}
