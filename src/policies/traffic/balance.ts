import type { GrpcCall } from '../../kernel/outbound.ts';
import type { ChainExchange, Interceptor } from './exchange.ts';
import type { Upstreams } from './upstream-registry.ts';

/**
 * Sends each attempt to one instance of its backend (docs/traffic.md, "Balancing"): round robin
 * or the less loaded of two at random, passing over instances that are ejected or unhealthy,
 * and over the one a retry comes from where another will do. Per attempt, so gRPC calls are
 * balanced per call too, never pinned to one channel. The instance gets the call at the
 * backend's scheme, path and Host (the logical host: virtual hosts and TLS names stay right).
 * A call to an address the config does not name (a standalone command's) goes as it is.
 */
export function balance(upstreams: Upstreams): Interceptor {
  return (next) => (exchange) => {
    const upstream = upstreams.of(keyOf(exchange));
    if (!upstream || upstream.instances.length === 0) return next(exchange);
    const instance = upstream.pick(exchange.instance);
    exchange.upstream = upstream;
    exchange.instance = instance;
    if (instance.address !== exchange.target.address)
      exchange.target = { ...exchange.target, address: instance.address };
    const elsewhere = instance.address !== upstream.spec.host;
    if (exchange.target.protocol === 'http') {
      exchange.origin = instance.origin;
      if (elsewhere) exchange.headers.host = upstream.spec.host;
    } else {
      const tls = (exchange.call as GrpcCall).tls;
      exchange.address = instance.address;
      exchange.tls = elsewhere ? instance.tlsFor(tls, upstream.spec.host) : tls;
    }
    return next(exchange);
  };
}

/** What a call site names its backend by: the HTTP origin or the gRPC address. */
export const keyOf = (exchange: ChainExchange): string =>
  'origin' in exchange.call ? exchange.call.origin : exchange.call.address;
