// Bridge: a hand-written subgraph over the orders gRPC service, until the gRPC adapter
// (issue 5) serves it from protos/ alone.
import * as grpc from '@grpc/grpc-js';
import { GraphQLError } from 'graphql';
import { loadOrderService } from '../backends/orders-grpc.ts';
import { createBatcher } from './batch.ts';
import { correlationOf, readSchema, serveSubgraph } from './serve.ts';

export const ORDERS_SDL = readSchema('orders.graphql');

interface OrderMessage {
  id: string;
  userId: string;
  status: string;
  items: { productId: string; quantity: number }[];
  createdAt: { seconds: string; nanos: number } | null;
}

type Client = grpc.Client &
  Record<
    string,
    (req: unknown, md: grpc.Metadata, cb: (e: grpc.ServiceError | null, r: unknown) => void) => void
  >;

/** gRPC status to the code a GraphQL client sees. */
const CODES: Partial<Record<grpc.status, string>> = {
  [grpc.status.NOT_FOUND]: 'NOT_FOUND',
  [grpc.status.INVALID_ARGUMENT]: 'BAD_USER_INPUT',
  [grpc.status.UNAVAILABLE]: 'UPSTREAM_UNAVAILABLE',
  [grpc.status.DEADLINE_EXCEEDED]: 'UPSTREAM_TIMEOUT',
};

function toOrder(message: OrderMessage) {
  const seconds = Number(message.createdAt?.seconds ?? 0);
  const millis = seconds * 1000 + Math.floor((message.createdAt?.nanos ?? 0) / 1e6);
  return {
    id: message.id,
    userId: message.userId,
    status: message.status.replace(/^ORDER_STATUS_/, ''),
    items: message.items.map((i) => ({ quantity: i.quantity, product: { id: i.productId } })),
    createdAt: new Date(millis).toISOString(),
  };
}

export async function startOrdersSubgraph(options: {
  ordersAddress: string;
  port?: number;
  host?: string;
}) {
  const Service = loadOrderService();
  const client = new Service(
    options.ordersAddress,
    grpc.credentials.createInsecure(),
  ) as unknown as Client;

  function call<T>(method: string, req: unknown, correlationId: string | undefined): Promise<T> {
    const metadata = new grpc.Metadata();
    if (correlationId) metadata.set('x-correlation-id', correlationId);
    return new Promise((resolve, reject) =>
      (client[method] as Client[string]).call(client, req, metadata, (error, response) => {
        if (!error) return resolve(response as T);
        reject(
          new GraphQLError(error.details || error.message, {
            extensions: { code: CODES[error.code] ?? 'UPSTREAM_ERROR' },
          }),
        );
      }),
    );
  }

  const running = await serveSubgraph({
    sdl: ORDERS_SDL,
    port: options.port,
    host: options.host,
    context: (headers) => {
      const correlationId = correlationOf(headers);
      return {
        correlationId,
        order: createBatcher(async (ids) => {
          const { orders } = await call<{ orders: OrderMessage[] }>(
            'BatchGetOrders',
            { ids },
            correlationId,
          );
          return new Map(orders.map((o) => [o.id, toOrder(o)]));
        }),
      };
    },
    resolvers: {
      Query: {
        order: (
          _: unknown,
          { id }: { id: string },
          ctx: { order: (id: string) => Promise<unknown> },
        ) => ctx.order(id).then((o) => o ?? null),
      },
      Mutation: {
        createOrder: async (
          _: unknown,
          input: { userId: string; items: { productId: string; quantity: number }[] },
          ctx: { correlationId?: string },
        ) => toOrder(await call<OrderMessage>('CreateOrder', input, ctx.correlationId)),
      },
      Order: {
        __resolveReference: (
          ref: { id: string },
          ctx: { order: (id: string) => Promise<unknown> },
        ) => ctx.order(ref.id).then((o) => o ?? null),
        user: (order: { userId: string }) => ({ id: order.userId }),
      },
      User: {
        orders: async (user: { id: string }, _: unknown, ctx: { correlationId?: string }) => {
          const { orders } = await call<{ orders: OrderMessage[] }>(
            'ListOrdersByUser',
            { userId: user.id },
            ctx.correlationId,
          );
          return orders.map(toOrder);
        },
      },
    },
  });
  return {
    ...running,
    close: async () => {
      await running.close();
      client.close();
    },
  };
}
