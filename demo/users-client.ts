// A small gRPC client for the demo users service as the gateway serves it on its gRPC port
// (REST backend, annotated proto protos/demo/users/v1/users.proto):
//   npm run users-client -- get 1
//   npm run users-client -- batch 1 2 9
//   npm run users-client -- create "Ada Byron" ada@example.com
// It calls the port `npm start` gives the gateway (demo/ports.ts): GRPC_PORT, else
// DEMO_PORT_BASE + 46051 (50051 by default); GRPC_ADDRESS (host:port) wins over both.
import * as grpc from '@grpc/grpc-js';
import { DemoPortError, demoPort } from './ports.ts';
import { loadUserService } from './users-grpc.ts';

const USAGE = `usage: users-client get <id> | batch <id>... | create <name> <email>

Calls the demo users service on the gateway's gRPC port, where npm start puts it:
  GRPC_ADDRESS    host:port to call; wins over the two below
  GRPC_PORT       the port on 127.0.0.1, as the gateway reads it (supergraph.yaml grpc_server.port)
  DEMO_PORT_BASE  the demo's port base: the gRPC port is base + 46051 (default 4000 + 46051 = 50051)`;

function grpcAddress(): string {
  if (process.env.GRPC_ADDRESS) return process.env.GRPC_ADDRESS;
  const { port, variable } = demoPort('grpc');
  if (port === 0) {
    throw new DemoPortError(
      `${variable}=0 lets the gateway pick its gRPC port: set GRPC_ADDRESS to the address it logged`,
    );
  }
  return `127.0.0.1:${port}`;
}

if (process.argv[2] === '--help' || process.argv[2] === '-h') {
  console.log(USAGE);
  process.exit(0);
}
let address: string;
try {
  address = grpcAddress();
} catch (error) {
  console.error(`users-client: ${(error as Error).message}`);
  process.exit(2);
}
const client = new (loadUserService())(address, grpc.credentials.createInsecure());

const [command = '', ...args] = process.argv.slice(2);
const calls: Record<string, [string, object]> = {
  get: ['GetUser', { id: args[0] }],
  batch: ['BatchGetUsers', { ids: args }],
  create: ['CreateUser', { name: args[0], email: args[1] }],
};
const chosen = calls[command];
if (!chosen) {
  console.error(USAGE);
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
      if (error.code === grpc.status.UNAVAILABLE) {
        console.error(`(nothing answered at ${address}: is the demo running? see --help)`);
      }
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
