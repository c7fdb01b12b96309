// A small gRPC client for the demo users service as the gateway serves it on its gRPC port
// (REST backend, annotated proto protos/demo/users/v1/users.proto):
//   npm run users-client -- get 1
//   npm run users-client -- batch 1 2 9
//   npm run users-client -- create "Ada Byron" ada@example.com
// GRPC_ADDRESS overrides the address (default 127.0.0.1:50051).
import * as grpc from '@grpc/grpc-js';
import { loadUserService } from './users-grpc.ts';

const address = process.env.GRPC_ADDRESS ?? '127.0.0.1:50051';
const client = new (loadUserService())(address, grpc.credentials.createInsecure());

const [command = '', ...args] = process.argv.slice(2);
const calls: Record<string, [string, object]> = {
  get: ['GetUser', { id: args[0] }],
  batch: ['BatchGetUsers', { ids: args }],
  create: ['CreateUser', { name: args[0], email: args[1] }],
};
const chosen = calls[command];
if (!chosen) {
  console.error('usage: users-client get <id> | batch <id>... | create <name> <email>');
  process.exit(2);
}
const [method, request] = chosen;
const metadata = new grpc.Metadata();
const rpc = client[method] as (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, reply: unknown) => void,
) => grpc.ClientUnaryCall;
const call = rpc.call(
  client,
  request,
  metadata,
  { deadline: Date.now() + 5_000 },
  (error, reply) => {
    client.close();
    if (error) {
      console.error(`${grpc.status[error.code]} (${error.code}): ${error.details}`);
      process.exitCode = 1;
      return;
    }
    console.log(JSON.stringify(reply, null, 2));
  },
);
call.on('metadata', (md) => {
  const id = md.get('x-correlation-id')[0];
  if (id) console.error(`x-correlation-id: ${String(id)}`);
});
