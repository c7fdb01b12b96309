// Bridge: a hand-written subgraph over the users REST service, until the REST adapter
// (issue 4) serves it from supergraph.yaml alone.
import { GraphQLError } from 'graphql';
import { request } from 'undici';
import type { User } from '../data.ts';
import { createBatcher } from './batch.ts';
import { correlationOf, readSchema, serveSubgraph } from './serve.ts';

export const USERS_SDL = readSchema('users.graphql');

export async function startUsersSubgraph(options: {
  usersUrl: string;
  port?: number;
  host?: string;
}) {
  async function call<T>(
    path: string,
    correlationId: string | undefined,
    init: { method?: 'GET' | 'POST'; body?: unknown } = {},
  ) {
    const response = await request(`${options.usersUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        'content-type': 'application/json',
        ...(correlationId ? { 'x-correlation-id': correlationId } : {}),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const body = (await response.body.json()) as T & { error?: string };
    return { status: response.statusCode, body };
  }

  return serveSubgraph({
    sdl: USERS_SDL,
    port: options.port,
    host: options.host,
    context: (headers) => {
      const correlationId = correlationOf(headers);
      return {
        correlationId,
        user: createBatcher<User>(async (ids) => {
          const { body } = await call<User[]>(
            `/users?ids=${ids.map(encodeURIComponent).join(',')}`,
            correlationId,
          );
          return new Map(body.map((u) => [u.id, u]));
        }),
      };
    },
    resolvers: {
      Query: {
        user: (
          _: unknown,
          { id }: { id: string },
          ctx: { user: (id: string) => Promise<User | undefined> },
        ) => ctx.user(id).then((u) => u ?? null),
        users: (
          _: unknown,
          { ids }: { ids: string[] },
          ctx: { user: (id: string) => Promise<User | undefined> },
        ) =>
          Promise.all(ids.map((id) => ctx.user(id))).then((found) =>
            found.filter((u): u is User => u !== undefined),
          ),
      },
      Mutation: {
        createUser: async (
          _: unknown,
          input: { name: string; email: string },
          ctx: { correlationId?: string },
        ) => {
          const { status, body } = await call<User>('/users', ctx.correlationId, {
            method: 'POST',
            body: input,
          });
          if (status === 201) return body;
          throw new GraphQLError(body.error ?? `users service answered ${status}`, {
            extensions: { code: status === 400 ? 'BAD_USER_INPUT' : 'UPSTREAM_ERROR' },
          });
        },
      },
      User: {
        __resolveReference: (
          ref: { id: string },
          ctx: { user: (id: string) => Promise<User | undefined> },
        ) => ctx.user(ref.id).then((u) => u ?? null),
      },
    },
  });
}
