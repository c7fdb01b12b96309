// The mobile app's BFF: resolvers of schemas/mobile.graphql, run in the gateway
// (supergraph.yaml, `subgraphs.mobile.source`; docs/clients.md, "Aggregation"). Each resolver
// gets `{ bff }`: `bff.query` runs an operation on the federated graph as the caller (their
// identity, limits and cost budget), `bff.loader` gives the request's DataLoader of a name.
// The sections of `home` resolve concurrently; one that throws is null with its error.
import { GraphQLError } from 'graphql';
import {
  operation,
  type Bff,
  type BffContext,
  type BffResolvers,
} from '../../src/bff/aggregation/api.ts';

interface Order {
  id: string;
  status: string;
  createdAt: string | null;
  items: { productId: string; quantity: number }[];
}

interface Product {
  id: string;
  name: string;
  priceCents: number;
}

const VIEWER = operation<{ user: { id: string; name: string } | null }, { id: string }>(
  'query MobileViewer($id: ID!) { user(id: $id) { id name } }',
);
const EMAIL = operation<{ user: { email: string | null } | null }, { id: string }>(
  'query MobileViewerEmail($id: ID!) { user(id: $id) { email } }',
);
const ORDERS = operation<{ listOrdersByUser: { orders: Order[] } | null }, { userId: string }>(
  'query MobileOrders($userId: String) { listOrdersByUser(userId: $userId) { orders { id status createdAt items { productId quantity } } } }',
);
const PRODUCTS_BY_ID = operation<{ products: Product[] }, { ids: readonly string[] }>(
  'query MobileProductsById($ids: [ID!]) { products(ids: $ids) { id name priceCents } }',
);
const CATALOG = operation<{ products: Product[] }>(
  'query MobileCatalog { products { id name priceCents } }',
);

/** The signed-in user's id: the verified token's subject. */
function viewerId(bff: Bff): string {
  if (!bff.caller)
    throw new GraphQLError('Sign in to see this.', { extensions: { code: 'UNAUTHENTICATED' } });
  return bff.caller.subject;
}

/** The caller's orders, newest first: fetched once per request, whichever section asks first. */
function ordersOf(bff: Bff, userId: string): Promise<Order[]> {
  return bff
    .loader('ordersByUser', (ids: readonly string[]) =>
      Promise.all(
        ids.map(async (id) => {
          const data = await bff.query(ORDERS, { userId: id });
          return data.listOrdersByUser?.orders ?? [];
        }),
      ),
    )
    .load(userId);
}

/** Products by id in one call per tick, whoever asks: every item's name of every order at once. */
function productById(bff: Bff, id: string): Promise<Product | null> {
  return bff
    .loader('productById', async (ids: readonly string[]) => {
      const { products } = await bff.query(PRODUCTS_BY_ID, { ids });
      const byId = new Map(products.map((p) => [p.id, p]));
      return ids.map((id) => byId.get(id) ?? null);
    })
    .load(id);
}

export const resolvers: BffResolvers = {
  Query: {
    // The sections resolve below, each on its own: home itself asks nothing.
    home: () => ({}),
  },
  Home: {
    viewer: async (_home: unknown, _args: unknown, { bff }: BffContext) =>
      (await bff.query(VIEWER, { id: viewerId(bff) })).user,
    recentOrders: async (_home: unknown, _args: unknown, { bff }: BffContext) =>
      (await ordersOf(bff, viewerId(bff))).slice(0, 3),
    recommended: async (_home: unknown, _args: unknown, { bff }: BffContext) => {
      // The catalog and the orders are independent: asked together. Without the orders (no one
      // signed in, or the orders service down) the catalog's first products still show.
      const [{ products }, orders] = await Promise.all([
        bff.query(CATALOG),
        bff.caller ? ordersOf(bff, bff.caller.subject).catch(() => []) : [],
      ]);
      const ordered = new Set(orders.flatMap((o) => o.items.map((i) => i.productId)));
      return products.filter((p) => !ordered.has(p.id)).slice(0, 3);
    },
  },
  MobileViewer: {
    email: async (viewer: { id: string }, _args: unknown, { bff }: BffContext) =>
      (await bff.query(EMAIL, { id: viewer.id })).user?.email ?? null,
  },
  MobileOrderItem: {
    productName: async (item: { productId: string }, _args: unknown, { bff }: BffContext) =>
      (await productById(bff, item.productId))?.name ?? null,
  },
};
