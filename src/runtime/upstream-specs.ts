import { readChannelTls } from '../adapters/grpc/channels.ts';
import type { LoadedConfig } from '../config/load.ts';
import type { GatewayConfig, SubgraphTrafficConfig, TrafficConfig } from '../config/schema.ts';
import type { ChannelTls } from '../kernel/outbound.ts';
import type { UpstreamSpec } from '../policies/traffic/upstreams.ts';

/**
 * Every backend the config names, as the upstream registry follows it (policies/traffic/
 * upstream-registry.ts): its key (the origin or address its call sites name), its instances and
 * its traffic settings, a subgraph's own `traffic` over the top-level ones. The first backend to
 * name an address defines it: a transcoded service over a gRPC subgraph's address shares the
 * subgraph's instances and record.
 */
export function upstreamSpecsOf(
  config: GatewayConfig | undefined,
  loaded: LoadedConfig | undefined,
): UpstreamSpec[] {
  if (!config) return [];
  const specs: UpstreamSpec[] = [];
  const file = loaded?.file ?? '';
  const http = (
    name: string,
    url: string,
    instances: readonly string[] | undefined,
    own?: SubgraphTrafficConfig,
  ) => {
    const { origin, host } = new URL(url);
    specs.push({
      key: origin,
      name,
      protocol: 'http',
      host,
      instances: instances ?? [host],
      ...settingsOf(config.traffic, own),
    });
  };
  const grpc = (
    name: string,
    address: string,
    instances: readonly string[] | undefined,
    tls: ChannelTls | undefined,
    own?: SubgraphTrafficConfig,
  ) => {
    specs.push({
      key: address,
      name,
      protocol: 'grpc',
      host: address,
      instances: instances ?? [address],
      ...settingsOf(config.traffic, own),
      tls,
    });
  };
  for (const [name, subgraph] of Object.entries(config.subgraphs)) {
    const { source } = subgraph;
    if (source?.kind === 'rest') http(name, source.base_url, source.instances, subgraph.traffic);
    else if (source?.kind === 'grpc') {
      const resolved = loaded?.schemas.get(name);
      const tls =
        resolved?.kind === 'grpc' && resolved.tls
          ? readChannelTls(resolved.tls, file, `subgraphs.${name}.source.tls`)
          : undefined;
      grpc(name, source.address, source.instances, tls, subgraph.traffic);
    } else if (source === undefined) {
      const url = subgraph.routing_url ?? subgraph.schema?.subgraph_url;
      if (url) http(name, url, subgraph.instances, subgraph.traffic);
    }
  }
  for (const [name, entry] of loaded?.transcode ?? [])
    if (entry.config.subgraph === undefined)
      grpc(
        name,
        entry.address,
        entry.config.instances,
        entry.tls && readChannelTls(entry.tls, file, `transcode.${name}.tls`),
        entry.config.traffic,
      );
  for (const [name, service] of Object.entries(config.grpc_server.services))
    http(name, service.base_url, service.instances, service.traffic);
  for (const route of config.routes) {
    const name = route.name ?? route.path_prefix;
    route.backends.forEach((backend, index) =>
      http(
        route.backends.length > 1 ? `${name}[${index}]` : name,
        backend.url,
        backend.instances,
        route.traffic,
      ),
    );
  }
  return specs;
}

/** A subgraph's own traffic settings over the top-level ones (each given object whole). */
function settingsOf(top: TrafficConfig, own: SubgraphTrafficConfig | undefined) {
  const check = own?.health_check === undefined ? top.health_check : own.health_check;
  const dns = own?.dns === undefined ? top.dns : own.dns;
  return {
    balance: own?.balance ?? top.balance,
    outlier: own?.outlier_detection ?? top.outlier_detection,
    retries: own?.retries ?? top.retries,
    healthCheck: check === false ? undefined : check,
    dnsRefreshMs: dns === false || dns === undefined ? undefined : dns.refresh,
  };
}
