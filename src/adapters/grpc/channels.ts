import * as grpc from '@grpc/grpc-js';

/**
 * One gRPC client (one HTTP/2 channel) per backend address, kept across reloads: an adapter
 * rebuilt by a reload reuses the connection, and stopping the gateway closes them all.
 */
export interface ChannelTls {
  /** PEM contents. */
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  serverName?: string;
}

export class GrpcChannels {
  readonly #clients = new Map<string, grpc.Client>();

  /** The channel to `address`: plaintext without `tls`, else TLS with its roots and identity. */
  get(address: string, tls?: ChannelTls): grpc.Client {
    const id = tls
      ? `${address} tls ${tls.serverName ?? ''} ${tls.ca?.length ?? 0}:${tls.cert?.length ?? 0}`
      : address;
    let client = this.#clients.get(id);
    if (!client) {
      const credentials = tls
        ? grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null)
        : grpc.credentials.createInsecure();
      client = new grpc.Client(address, credentials, {
        // Keep idle channels alive through load balancers and NAT, as long-lived gateways need.
        'grpc.keepalive_time_ms': 30_000,
        ...(tls?.serverName ? { 'grpc.ssl_target_name_override': tls.serverName } : {}),
      });
      this.#clients.set(id, client);
    }
    return client;
  }

  close(): void {
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }
}
