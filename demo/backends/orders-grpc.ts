// The demo orders service: a real gRPC server (@grpc/grpc-js) for protos/demo/orders/v1.
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { BUILTIN_PROTOS } from '../../src/adapters/grpc/proto-schema.ts';
import { ORDERS, type Order, type OrderStatus } from '../data.ts';
import {
  grpcMetadata,
  ProofKeysUnavailableError,
  type GatewayVerifier,
} from '../gateway-verifier.ts';
import type { RunningBackend } from './users-rest.ts';

export const PROTOS_DIR = join(import.meta.dirname, '../../protos');
export const ORDERS_PROTO = 'demo/orders/v1/orders.proto';

/**
 * proto-loader options shared by the server and its clients: camelCase field names, 64-bit
 * integers as strings (no precision loss), enums by name, defaults filled in.
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  // The protos import google/api/annotations.proto, which ships with the gateway.
  includeDirs: [PROTOS_DIR, BUILTIN_PROTOS],
};

export function loadOrderService(): grpc.ServiceClientConstructor {
  const definition = protoLoader.loadSync(ORDERS_PROTO, LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    demo: { orders: { v1: { OrderService: grpc.ServiceClientConstructor } } };
  };
  return pkg.demo.orders.v1.OrderService;
}

interface OrderMessage {
  id: string;
  userId: string;
  status: string;
  items: { productId: string; quantity: number }[];
  createdAt: { seconds: string; nanos: number };
}

function toMessage(order: Order): OrderMessage {
  const millis = Date.parse(order.createdAt);
  return {
    id: order.id,
    userId: order.userId,
    status: `ORDER_STATUS_${order.status}`,
    items: order.items,
    createdAt: { seconds: String(Math.floor(millis / 1000)), nanos: (millis % 1000) * 1e6 },
  };
}

const fail = (code: grpc.status, details: string) =>
  Object.assign(new Error(details), { code, details });

export interface OrdersGrpcOptions {
  port?: number;
  host?: string;
  /** Called with every call as it arrives, refused ones included. */
  onCall?: (metadata: grpc.Metadata, method: string, request: unknown) => void;
  /**
   * Accept only calls carrying the gateway's proof in their metadata (demo/gateway-verifier.ts):
   * others fail UNAUTHENTICATED. The health service stays open: /readyz asks it directly.
   */
  verifier?: GatewayVerifier;
}

export async function startOrdersGrpc(options: OrdersGrpcOptions = {}): Promise<RunningBackend> {
  const orders = new Map<string, Order>(ORDERS.map((o) => [o.id, { ...o, items: [...o.items] }]));
  let nextId = orders.size + 1;
  const service = loadOrderService().service;
  const server = new grpc.Server();

  type Unary<Req> = grpc.ServerUnaryCall<Req, unknown>;
  const handlers = {
    GetOrder(call: Unary<{ id: string }>, callback: grpc.sendUnaryData<unknown>) {
      const order = orders.get(call.request.id);
      if (!order)
        return callback(fail(grpc.status.NOT_FOUND, `order ${call.request.id} not found`));
      callback(null, toMessage(order));
    },
    ListOrdersByUser(call: Unary<{ userId: string }>, callback: grpc.sendUnaryData<unknown>) {
      if (!call.request.userId)
        return callback(fail(grpc.status.INVALID_ARGUMENT, 'user_id is required'));
      const mine = [...orders.values()]
        .filter((o) => o.userId === call.request.userId)
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      callback(null, { orders: mine.map(toMessage) });
    },
    BatchGetOrders(call: Unary<{ ids: string[] }>, callback: grpc.sendUnaryData<unknown>) {
      callback(null, {
        orders: call.request.ids.flatMap((id) => orders.get(id) ?? []).map(toMessage),
      });
    },
    CreateOrder(
      call: Unary<{ userId: string; items: { productId: string; quantity: number }[] }>,
      callback: grpc.sendUnaryData<unknown>,
    ) {
      const { userId, items } = call.request;
      if (!userId || items.length === 0) {
        return callback(
          fail(grpc.status.INVALID_ARGUMENT, 'user_id and at least one item are required'),
        );
      }
      if (items.some((i) => !i.productId || i.quantity < 1)) {
        return callback(
          fail(
            grpc.status.INVALID_ARGUMENT,
            'every item needs a product_id and a quantity of 1 or more',
          ),
        );
      }
      const order: Order = {
        id: String(nextId++),
        userId,
        status: 'PENDING' satisfies OrderStatus,
        items: items.map((i) => ({ productId: i.productId, quantity: i.quantity })),
        createdAt: new Date().toISOString(),
      };
      orders.set(order.id, order);
      callback(null, toMessage(order));
    },
  };
  server.addService(
    service,
    admitted(handlers, options) as unknown as grpc.UntypedServiceImplementation,
  );
  // grpc.health.v1, which the gateway's /readyz asks: this server is up whenever it answers.
  const health = grpc.loadPackageDefinition(
    protoLoader.loadSync('grpc/health/v1/health.proto', LOADER_OPTIONS),
  ) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
  server.addService(health.grpc.health.v1.Health.service, {
    Check: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
      callback(null, { status: 'SERVING' }),
    Watch: (call: grpc.ServerWritableStream<unknown, unknown>) => call.write({ status: 'SERVING' }),
  });

  const host = options.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      `${host}:${options.port ?? 0}`,
      grpc.ServerCredentials.createInsecure(),
      (error, bound) => (error ? reject(error) : resolve(bound)),
    ),
  );
  return {
    url: `${host}:${port}`,
    port,
    close: async () => {
      server.forceShutdown();
    },
  };
}

type UnaryHandler = (
  call: grpc.ServerUnaryCall<never, unknown>,
  callback: grpc.sendUnaryData<unknown>,
) => void;

/**
 * Each handler behind the `onCall` hook and, with a verifier, behind the gateway's proof: a call
 * without a valid one fails UNAUTHENTICATED before the handler sees it.
 */
function admitted(
  handlers: Record<string, UnaryHandler>,
  { onCall, verifier }: OrdersGrpcOptions,
): Record<string, UnaryHandler> {
  return Object.fromEntries(
    Object.entries(handlers).map(([name, handler]): [string, UnaryHandler] => [
      name,
      (call, callback) => {
        onCall?.(call.metadata, name, call.request);
        if (!verifier) return handler(call, callback);
        verifier.verify(grpcMetadata(call.metadata)).then(
          () => handler(call, callback),
          (error: unknown) =>
            callback(
              error instanceof ProofKeysUnavailableError
                ? fail(grpc.status.UNAVAILABLE, 'the gateway proof cannot be checked right now')
                : fail(grpc.status.UNAUTHENTICATED, 'call this service through the gateway'),
            ),
        );
      },
    ]),
  );
}
