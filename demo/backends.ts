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

export type DemoBackendName = keyof DemoPorts;

export interface DemoBackendHooks {
  onUsersRequest?: (req: IncomingMessage) => void;
  onOrdersCall?: (md: Metadata, method: string, request: unknown) => void;
  onProductsRequest?: (req: IncomingMessage) => void;
  verifier?: GatewayVerifier;
}

/** One demo backend on `port` (0 or absent = ephemeral), as startDemoBackends starts it. */
export function startDemoBackend(
  name: DemoBackendName,
  port: number | undefined,
  hooks: DemoBackendHooks = {},
): Promise<RunningBackend> {
  switch (name) {
    case 'users':
      return startUsersRest({ port, onRequest: hooks.onUsersRequest, verifier: hooks.verifier });
    case 'orders':
      return startOrdersGrpc({ port, onCall: hooks.onOrdersCall, verifier: hooks.verifier });
    case 'products':
      return startProductsSubgraph({
        port,
        onRequest: hooks.onProductsRequest,
        verifier: hooks.verifier,
      });
  }
}

/** A backend that could not start, with its name: `npm start` says which port to move. */
export class DemoBackendStartError extends Error {
  readonly backend: DemoBackendName;
  constructor(backend: DemoBackendName, options: { cause: unknown }) {
    super(`the ${backend} backend could not start: ${String(options.cause)}`, options);
    this.backend = backend;
  }
}

/**
 * The three demo backends. Port 0 = ephemeral. Users (REST) and orders (gRPC) join the graph
 * through the gateway's adapters; products is a federation subgraph itself. With a `verifier`,
 * all three refuse calls that lack the gateway's proof (401, or UNAUTHENTICATED over gRPC).
 * A backend that fails to start stops the others and throws a DemoBackendStartError.
 */
export async function startDemoBackends(
  ports: DemoPorts = {},
  hooks: DemoBackendHooks = {},
): Promise<DemoBackends> {
  const started: RunningBackend[] = [];
  const track = async (name: DemoBackendName) => {
    try {
      const backend = await startDemoBackend(name, ports[name], hooks);
      started.push(backend);
      return backend;
    } catch (error) {
      throw new DemoBackendStartError(name, { cause: error });
    }
  };
  try {
    const users = await track('users');
    const orders = await track('orders');
    const products = await track('products');
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
