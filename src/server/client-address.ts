import { BlockList, isIP } from 'node:net';

/**
 * Who is calling, by address: the peer of the connection, unless the peer is a proxy the
 * operator trusts (`server.trusted_proxies`), in which case the nearest address in
 * `X-Forwarded-For` that no trusted proxy owns. Walking from the right matters: a client can
 * write anything to the left of what its proxies append, so only entries appended by trusted
 * hops are believed (the rule nginx's `real_ip_recursive` and Envoy's `xff_num_trusted_hops`
 * follow). With no trusted proxies the header is never read.
 */
export class ClientAddresses {
  readonly #trusted: BlockList | undefined;

  /** `trusted`: IP addresses and CIDR ranges, already validated (config/schema.ts). */
  constructor(trusted: readonly string[]) {
    if (trusted.length === 0) return;
    const list = new BlockList();
    for (const entry of trusted) {
      const [address = '', prefix] = entry.split('/');
      const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (prefix === undefined) list.addAddress(address, type);
      else list.addSubnet(address, Number(prefix), type);
    }
    this.#trusted = list;
  }

  /** The client address of a request from `peer` carrying `forwardedFor` (joined header values). */
  of(peer: string | undefined, forwardedFor: string | string[] | undefined): string {
    let current = normalize(peer ?? '');
    if (!this.#trusted || forwardedFor === undefined || !this.#isTrusted(current)) return current;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = normalize(hops[i]!.trim());
      // A hop that is not an address was written by someone the trusted proxy did not check:
      // the proxy that passed it on is the last address known.
      if (isIP(hop) === 0) return current;
      current = hop;
      if (!this.#isTrusted(current)) return current;
    }
    return current;
  }

  /**
   * The `X-Forwarded-For` to send on to a backend: the incoming list with the peer appended when
   * the peer is a trusted proxy (the list is then the chain the client address was read from),
   * else the peer alone, so an untrusted caller's invented hops never reach a backend as if a
   * proxy had written them. (The de facto rule nginx's `$proxy_add_x_forwarded_for` and Envoy's
   * `use_remote_address` follow; RFC 7239 section 5.2 for `Forwarded`.)
   */
  forwardedFor(peer: string | undefined, forwardedFor: string | string[] | undefined): string {
    const current = normalize(peer ?? '');
    if (!this.#trusted || forwardedFor === undefined || !this.#isTrusted(current)) return current;
    const incoming = (Array.isArray(forwardedFor) ? forwardedFor.join(', ') : forwardedFor).trim();
    return incoming ? `${incoming}, ${current}` : current;
  }

  #isTrusted(address: string): boolean {
    const type = isIP(address);
    return type !== 0 && this.#trusted!.check(address, type === 6 ? 'ipv6' : 'ipv4');
  }
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is `10.0.0.1`; `[::1]` is `::1`. */
function normalize(address: string): string {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  return bare.startsWith('::ffff:') && isIP(bare.slice(7)) === 4 ? bare.slice(7) : bare;
}

/** A gRPC peer (`ipv4:10.0.0.1:5000`, `ipv6:[::1]:5000`) as an address. */
export function addressOfGrpcPeer(peer: string): string {
  const rest = peer.replace(/^ipv[46]:/, '');
  if (rest.startsWith('[')) return normalize(rest.slice(0, rest.indexOf(']') + 1));
  const colon = rest.lastIndexOf(':');
  return normalize(colon > 0 && isIP(rest.slice(0, colon)) ? rest.slice(0, colon) : rest);
}
