import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { ConfigError } from '../../config/errors.ts';
import type { ResolvedTls } from '../../config/load.ts';
import type { ChannelTls } from '../../kernel/outbound.ts';

/**
 * One gRPC client (one HTTP/2 channel) per backend address, kept across reloads: an adapter
 * rebuilt by a reload reuses the connection, and stopping the gateway closes them all.
 */
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

/**
 * The PEM files of a TLS setting, read at each load so a rotated certificate applies at the next
 * reload; an unreadable one is a config error at `keyPath.<part>`.
 */
export function readChannelTls(
  files: ResolvedTls,
  configFile: string,
  keyPath: string,
): ChannelTls {
  const { serverName, ...pems } = files;
  const tls: ChannelTls = serverName ? { serverName } : {};
  for (const [part, file] of Object.entries(pems) as [keyof typeof pems, string][]) {
    try {
      tls[part] = readFileSync(file);
    } catch (error) {
      throw new ConfigError([
        {
          file: configFile,
          path: `${keyPath}.${part}`,
          message: `cannot read ${file} (${(error as NodeJS.ErrnoException).code})`,
        },
      ]);
    }
  }
  return tls;
}
