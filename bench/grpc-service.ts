// Child process of the bench: the demo orders gRPC service on an ephemeral port.
import { startOrdersGrpc } from '../demo/backends/orders-grpc.ts';

const orders = await startOrdersGrpc();
process.stdout.write(`${JSON.stringify({ address: orders.url })}\n`);
process.on('SIGTERM', () => void orders.close().then(() => process.exit(0)));
