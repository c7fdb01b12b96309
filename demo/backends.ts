import type { IncomingMessage } from 'node:http';
import type { Metadata } from '@grpc/grpc-js';
import { startOrdersGrpc } from './backends/orders-grpc.ts';
import { startProductsSubgraph } from './backends/products-subgraph.ts';
import { startUsersRest, type RunningBackend } from './backends/users-rest.ts';
import { startOrdersSubgraph } from './bridges/orders-subgraph.ts';

export interface DemoPorts {
  users?: number;
  orders?: number;
  products?: number;
  ordersSubgraph?: number;
}

export interface DemoBackends {
  users: RunningBackend;
  orders: RunningBackend;
  products: RunningBackend;
  ordersSubgraph: RunningBackend;
  /** What the gateway's supergraph.yaml reads: the users REST base URL and the subgraph URLs. */
  env: Record<'USERS_URL' | 'ORDERS_SUBGRAPH_URL' | 'PRODUCTS_SUBGRAPH_URL', string>;
  close(): Promise<void>;
}

/**
 * The three demo backends and the orders bridge subgraph, backends first. Port 0 = ephemeral.
 * The users REST service needs no bridge: the gateway's REST adapter serves it.
 */
export async function startDemoBackends(
  ports: DemoPorts = {},
  hooks: {
    onUsersRequest?: (req: IncomingMessage) => void;
    onOrdersCall?: (md: Metadata) => void;
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
      startUsersRest({ port: ports.users, onRequest: hooks.onUsersRequest }),
    );
    const orders = await track(startOrdersGrpc({ port: ports.orders, onCall: hooks.onOrdersCall }));
    const products = await track(startProductsSubgraph({ port: ports.products }));
    const ordersSubgraph = await track(
      startOrdersSubgraph({ ordersAddress: orders.url, port: ports.ordersSubgraph }),
    );
    return {
      users,
      orders,
      products,
      ordersSubgraph,
      env: {
        USERS_URL: users.url,
        ORDERS_SUBGRAPH_URL: ordersSubgraph.url,
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
