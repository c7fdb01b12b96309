import type { IncomingMessage } from 'node:http';
import type { Metadata } from '@grpc/grpc-js';
import { startOrdersGrpc } from './backends/orders-grpc.ts';
import { startProductsSubgraph } from './backends/products-subgraph.ts';
import { startUsersRest, type RunningBackend } from './backends/users-rest.ts';
import type { GatewayVerifier } from './gateway-verifier.ts';

export interface DemoPorts {
  users?: number;
  orders?: number;
  products?: number;
}

export interface DemoBackends {
  users: RunningBackend;
  orders: RunningBackend;
  products: RunningBackend;
  /** What the gateway's supergraph.yaml reads: where each backend is. */
  env: Record<'USERS_URL' | 'ORDERS_ADDRESS' | 'PRODUCTS_SUBGRAPH_URL', string>;
  close(): Promise<void>;
}

/**
 * The three demo backends. Port 0 = ephemeral. Users (REST) and orders (gRPC) join the graph
 * through the gateway's adapters; products is a federation subgraph itself. With a `verifier`,
 * all three refuse calls that lack the gateway's proof (401, or UNAUTHENTICATED over gRPC).
 */
export async function startDemoBackends(
  ports: DemoPorts = {},
  hooks: {
    onUsersRequest?: (req: IncomingMessage) => void;
    onOrdersCall?: (md: Metadata, method: string, request: unknown) => void;
    onProductsRequest?: (req: IncomingMessage) => void;
    verifier?: GatewayVerifier;
  } = {},
): Promise<DemoBackends> {
  const started: RunningBackend[] = [];
  const track = async <T extends RunningBackend>(running: Promise<T>) => {
    const backend = await running;
    started.push(backend);
    return backend;
  };
  try {
    const users = await track(
      startUsersRest({
        port: ports.users,
        onRequest: hooks.onUsersRequest,
        verifier: hooks.verifier,
      }),
    );
    const orders = await track(
      startOrdersGrpc({ port: ports.orders, onCall: hooks.onOrdersCall, verifier: hooks.verifier }),
    );
    const products = await track(
      startProductsSubgraph({
        port: ports.products,
        onRequest: hooks.onProductsRequest,
        verifier: hooks.verifier,
      }),
    );
    return {
      users,
      orders,
      products,
      env: {
        USERS_URL: users.url,
        ORDERS_ADDRESS: orders.url,
        PRODUCTS_SUBGRAPH_URL: products.url,
      },
      close: async () => {
        await Promise.all(started.reverse().map((b) => b.close()));
      },
    };
  } catch (error) {
    await Promise.all(started.map((b) => b.close()));
    throw error;
  }
}
