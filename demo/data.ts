// Seed data shared by the demo backends, consistent across them: every order's user and every
// item's product exists.

export interface User {
  id: string;
  name: string;
  email: string;
}

export interface Product {
  id: string;
  name: string;
  priceCents: number;
}

export type OrderStatus = 'PENDING' | 'PAID' | 'SHIPPED' | 'DELIVERED' | 'CANCELLED';

export interface Order {
  id: string;
  userId: string;
  status: OrderStatus;
  items: { productId: string; quantity: number }[];
  createdAt: string;
}

export const USERS: readonly User[] = [
  { id: '1', name: 'Ada Lovelace', email: 'ada@example.com' },
  { id: '2', name: 'Alan Turing', email: 'alan@example.com' },
  { id: '3', name: 'Grace Hopper', email: 'grace@example.com' },
  { id: '4', name: 'Edsger Dijkstra', email: 'edsger@example.com' },
  { id: '5', name: 'Barbara Liskov', email: 'barbara@example.com' },
];

export const PRODUCTS: readonly Product[] = [
  { id: 'p1', name: 'Mechanical keyboard', priceCents: 12900 },
  { id: 'p2', name: 'Wireless mouse', priceCents: 4900 },
  { id: 'p3', name: '27-inch monitor', priceCents: 32900 },
  { id: 'p4', name: 'USB-C dock', priceCents: 15900 },
  { id: 'p5', name: 'Laptop stand', priceCents: 5900 },
  { id: 'p6', name: 'Noise-cancelling headphones', priceCents: 24900 },
];

export const ORDERS: readonly Order[] = [
  {
    id: '1',
    userId: '1',
    status: 'DELIVERED',
    createdAt: '2026-09-02T10:15:00Z',
    items: [
      { productId: 'p1', quantity: 1 },
      { productId: 'p2', quantity: 2 },
    ],
  },
  {
    id: '2',
    userId: '1',
    status: 'SHIPPED',
    createdAt: '2026-10-20T16:40:00Z',
    items: [{ productId: 'p3', quantity: 1 }],
  },
  {
    id: '3',
    userId: '2',
    status: 'PAID',
    createdAt: '2026-10-28T08:05:00Z',
    items: [
      { productId: 'p4', quantity: 1 },
      { productId: 'p5', quantity: 1 },
    ],
  },
  {
    id: '4',
    userId: '3',
    status: 'PENDING',
    createdAt: '2026-11-01T12:00:00Z',
    items: [{ productId: 'p6', quantity: 1 }],
  },
  {
    id: '5',
    userId: '1',
    status: 'PENDING',
    createdAt: '2026-11-18T09:30:00Z',
    items: [{ productId: 'p5', quantity: 2 }],
  },
  {
    id: '6',
    userId: '4',
    status: 'CANCELLED',
    createdAt: '2026-08-14T14:22:00Z',
    items: [{ productId: 'p2', quantity: 1 }],
  },
  {
    id: '7',
    userId: '5',
    status: 'DELIVERED',
    createdAt: '2026-07-30T18:45:00Z',
    items: [
      { productId: 'p1', quantity: 1 },
      { productId: 'p6', quantity: 1 },
    ],
  },
  {
    id: '8',
    userId: '2',
    status: 'SHIPPED',
    createdAt: '2026-11-10T11:11:00Z',
    items: [{ productId: 'p3', quantity: 2 }],
  },
];
