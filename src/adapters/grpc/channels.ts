import * as grpc from '@grpc/grpc-js';

/**
 * One gRPC client (one HTTP/2 channel) per backend address, kept across reloads: an adapter
 * rebuilt by a reload reuses the connection, and stopping the gateway closes them all.
 */
export class GrpcChannels {
  readonly #clients = new Map<string, grpc.Client>();

  get(address: string): grpc.Client {
    let client = this.#clients.get(address);
    if (!client) {
      client = new grpc.Client(address, grpc.credentials.createInsecure(), {
        // Keep idle channels alive through load balancers and NAT, as long-lived gateways need.
        'grpc.keepalive_time_ms': 30_000,
      });
      this.#clients.set(address, client);
    }
    return client;
  }

  close(): void {
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }
}
