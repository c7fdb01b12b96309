import type { IncomingMessage } from 'node:http';
import type { Metadata } from '@grpc/grpc-js';
import { startOrdersGrpc } from './backends/orders-grpc.ts';
import { startProductsSubgraph } from './backends/products-subgraph.ts';
import { startUsersRest, type RunningBackend } from './backends/users-rest.ts';
import { startOrdersSubgraph } from './bridges/orders-subgraph.ts';
import { startUsersSubgraph } from './bridges/users-subgraph.ts';

export interface DemoPorts {
  users?: number;
  orders?: number;
  products?: number;
  usersSubgraph?: number;
  ordersSubgraph?: number;
}

export interface DemoBackends {
  users: RunningBackend;
  orders: RunningBackend;
  products: RunningBackend;
  usersSubgraph: RunningBackend;
  ordersSubgraph: RunningBackend;
  /** What the gateway's supergraph.yaml reads: each subgraph's GraphQL URL. */
  env: Record<'USERS_SUBGRAPH_URL' | 'ORDERS_SUBGRAPH_URL' | 'PRODUCTS_SUBGRAPH_URL', string>;
  close(): Promise<void>;
}

/** The three demo backends and the two bridge subgraphs, backends first. Port 0 = ephemeral. */
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
    const usersSubgraph = await track(
      startUsersSubgraph({ usersUrl: users.url, port: ports.usersSubgraph }),
    );
    const ordersSubgraph = await track(
      startOrdersSubgraph({ ordersAddress: orders.url, port: ports.ordersSubgraph }),
    );
    return {
      users,
      orders,
      products,
      usersSubgraph,
      ordersSubgraph,
      env: {
        USERS_SUBGRAPH_URL: usersSubgraph.url,
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
