import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { MAPPING_PROTOS } from '../fixtures/protos/mapping-server.ts';

/**
 * A supergraph.yaml serving every surface but GraphQL over two backends: the users REST backend
 * as the route `/api/users` and as `demo.users.v1.UserService` on the gRPC port (port 0), and
 * the library gRPC service's transcoded methods (`GET /v1/shelves/{shelf}/books/{book}`). The
 * GraphQL side is a stub nothing calls. `extra` adds keys; its `routes` come after the users one.
 */
export function everySurfaceConfig(
  usersUrl: string,
  libraryAddress: string,
  extra: { routes?: object[] } & Record<string, unknown> = {},
): Record<string, unknown> {
  const { routes = [], ...rest } = extra;
  return {
    subgraphs: {
      stub: {
        routing_url: 'http://127.0.0.1:9/graphql',
        schema: { sdl: 'type Query { hello: String }' },
      },
    },
    routes: [
      { path_prefix: '/api/users', rewrite_prefix: '/users', backends: [{ url: usersUrl }] },
      ...routes,
    ],
    transcode: {
      library: {
        address: libraryAddress,
        protos: ['transcode/v1/library.proto'],
        include_dirs: [MAPPING_PROTOS],
      },
    },
    grpc_server: {
      port: 0,
      reflection: false,
      services: {
        users: {
          protos: ['demo/users/v1/users.proto'],
          include_dirs: [join(import.meta.dirname, '../../protos')],
          base_url: usersUrl,
        },
      },
    },
    ...rest,
  };
}

/** GetUser over the gRPC port: the initial metadata, and the error when it fails. */
export function getUserOverGrpc(
  address: string,
): Promise<{ headers: grpc.Metadata; error?: grpc.ServiceError }> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  let headers = new grpc.Metadata();
  // GetUserRequest { id = 1 } is the bytes 0x0a 0x01 '1'; the reply is not read.
  return new Promise((resolve) => {
    const call = client.makeUnaryRequest(
      '/demo.users.v1.UserService/GetUser',
      (value: Buffer) => value,
      (bytes: Buffer) => bytes,
      Buffer.from([0x0a, 0x01, 0x31]),
      (error) => {
        client.close();
        resolve(error ? { headers, error } : { headers });
      },
    );
    call.on('metadata', (metadata) => (headers = metadata));
  });
}
