// The users REST service's gRPC description (protos/demo/users/v1/users.proto), as a grpc-js
// client constructor: what callers of the gateway's gRPC port use.
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { BUILTIN_PROTOS } from '../src/adapters/grpc/proto-schema.ts';

export function loadUserService(): grpc.ServiceClientConstructor {
  const definition = protoLoader.loadSync('demo/users/v1/users.proto', {
    includeDirs: [join(import.meta.dirname, '../protos'), BUILTIN_PROTOS],
    keepCase: false,
    longs: String,
    enums: String,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    demo: { users: { v1: { UserService: grpc.ServiceClientConstructor } } };
  };
  return pkg.demo.users.v1.UserService;
}
