import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

/**
 * grpc.health.v1 Check against a backend: what /readyz reports for a gRPC subgraph.
 * https://github.com/grpc/grpc/blob/master/doc/health-checking.md
 */
export type BackendHealth =
  'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN' | 'UNKNOWN' | 'NO_HEALTH_SERVICE' | 'UNREACHABLE';

export const HEALTH_PROTO = join(
  import.meta.dirname,
  '../../../protos/grpc/health/v1/health.proto',
);
let types: { request: protobuf.Type; response: protobuf.Type; status: protobuf.Enum } | undefined;

/** The grpc.health.v1 messages, loaded once: the client here and the gateway's gRPC port use them. */
export function healthTypes() {
  if (!types) {
    const root = protobuf.loadSync(HEALTH_PROTO);
    const response = root.lookupType('grpc.health.v1.HealthCheckResponse');
    types = {
      request: root.lookupType('grpc.health.v1.HealthCheckRequest'),
      response,
      status: response.lookupEnum('ServingStatus'),
    };
  }
  return types;
}

export function checkHealth(
  client: grpc.Client,
  service: string,
  timeoutMs: number,
): Promise<BackendHealth> {
  const { request, response, status } = healthTypes();
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      (message: protobuf.Message) => Buffer.from(request.encode(message).finish()),
      (bytes: Buffer) => response.decode(bytes),
      request.create({ service }),
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (error, answer) => {
        if (!error) {
          resolve(
            (status.valuesById[(answer as unknown as { status: number }).status] ??
              'UNKNOWN') as BackendHealth,
          );
        } else if (error.code === grpc.status.UNIMPLEMENTED) {
          resolve('NO_HEALTH_SERVICE');
        } else if (error.code === grpc.status.NOT_FOUND) {
          resolve('SERVICE_UNKNOWN');
        } else {
          resolve('UNREACHABLE');
        }
      },
    );
  });
}
