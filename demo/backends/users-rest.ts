// The demo users service: plain REST/JSON over node:http with seeded in-memory data.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { USERS, type User } from '../data.ts';
import {
  httpHeaders,
  ProofKeysUnavailableError,
  type GatewayVerifier,
  type VerifiedCaller,
} from '../gateway-verifier.ts';

export interface UsersRestOptions {
  port?: number;
  host?: string;
  /** Called with every request as it arrives (tests assert forwarded headers with it). */
  onRequest?: (req: IncomingMessage) => void;
  /**
   * Accept only calls that carry the gateway's proof (demo/gateway-verifier.ts): others get 401.
   * Without it every call is served, as a service on a trusted network would.
   */
  verifier?: GatewayVerifier;
}

export interface RunningBackend {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const BODY_LIMIT = 64 * 1024;

export async function startUsersRest(options: UsersRestOptions = {}): Promise<RunningBackend> {
  const users = new Map<string, User>(USERS.map((u) => [u.id, { ...u }]));
  /** Who created each user, by the identity the gateway vouched for. */
  const createdBy = new Map<string, string>();
  let nextId = users.size + 1;

  const server = createServer((req, res) => {
    options.onRequest?.(req);
    admit(req, res)
      .then((caller) => caller && handle(req, res, caller))
      .catch(() => send(res, 500, { error: 'internal error' }));
  });

  /** The verified caller, or undefined once a refusal is sent. */
  async function admit(
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<VerifiedCaller | undefined> {
    if (!options.verifier) return { scopes: [] };
    try {
      return await options.verifier.verify(httpHeaders(req.headers));
    } catch (error) {
      if (error instanceof ProofKeysUnavailableError) {
        send(res, 503, { error: 'the gateway proof cannot be checked right now' });
      } else {
        send(res, 401, { error: 'call this service through the gateway' });
      }
      return undefined;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse, caller: VerifiedCaller) {
    const url = new URL(req.url ?? '/', 'http://users.local');
    const single = /^\/users\/([^/]+)$/.exec(url.pathname);
    if (single) {
      if (req.method !== 'GET') return send(res, 405, { error: 'use GET' }, { allow: 'GET' });
      const user = users.get(decodeURIComponent(single[1] as string));
      return user ? send(res, 200, user) : send(res, 404, { error: `user ${single[1]} not found` });
    }
    if (url.pathname !== '/users') return send(res, 404, { error: `no route for ${url.pathname}` });
    if (req.method === 'GET') {
      // `?ids=1,2` and `?ids=1&ids=2` both work: the second is how gRPC transcoding repeats.
      const ids = url.searchParams.getAll('ids').flatMap((list) => list.split(','));
      if (ids.length === 0)
        return send(res, 400, { error: 'query parameter ids is required, e.g. ?ids=1,2' });
      const found = ids.flatMap((id) => users.get(id.trim()) ?? []);
      return send(res, 200, found);
    }
    if (req.method === 'POST') {
      if (!String(req.headers['content-type']).startsWith('application/json')) {
        return send(res, 415, { error: 'send application/json' });
      }
      let body: { name?: unknown; email?: unknown };
      try {
        body = JSON.parse(await readBody(req));
      } catch {
        return send(res, 400, { error: 'body is not valid JSON' });
      }
      if (
        typeof body.name !== 'string' ||
        !body.name ||
        typeof body.email !== 'string' ||
        !body.email.includes('@')
      ) {
        return send(res, 400, { error: 'name and a valid email are required' });
      }
      const user = { id: String(nextId++), name: body.name, email: body.email };
      users.set(user.id, user);
      // Read only after the proof verified: without a verifier no identity header is trusted.
      const creator = options.verifier ? caller.subject : undefined;
      if (creator) createdBy.set(user.id, creator);
      return send(res, 201, user, {
        location: `/users/${user.id}`,
        ...(creator ? { 'x-created-by': creator } : {}),
      });
    }
    return send(res, 405, { error: 'use GET or POST' }, { allow: 'GET, POST' });
  }

  return listen(server, options.port ?? 0, options.host ?? '127.0.0.1');
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > BODY_LIMIT) throw new Error('too large');
  }
  return body;
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

export async function listen(
  server: ReturnType<typeof createServer>,
  port: number,
  host: string,
): Promise<RunningBackend> {
  server.listen(port, host);
  await once(server, 'listening');
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${actual}`,
    port: actual,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
