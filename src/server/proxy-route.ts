import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Dispatcher } from 'undici';
import type { RequestContext } from '../kernel/context.ts';
import { HOP_BY_HOP } from '../kernel/outbound.ts';
import { corsGoverned } from '../policies/cors/cors.ts';
import type { Route, RouteBackend } from '../routes/route-table.ts';
import { readBody } from './read-body.ts';

export interface ProxyOptions {
  bodyLimit: number;
  /** The `X-Forwarded-For` to send (ClientAddresses.forwardedFor). */
  forwardedFor: string;
}

/**
 * Proxies one request to the backend a route chose, through the snapshot's outbound chain. The
 * body is read within `body_limit` first (a refused body never reaches the backend); the answer
 * streams back as it arrives with its status and end-to-end headers. Client headers pass only
 * from the list above and the route's `forward_headers`; identity and correlation come from
 * the stages.
 */
export async function serveProxied(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  route: Route,
  backend: RouteBackend,
  path: string,
  search: string,
  options: ProxyOptions,
): Promise<void> {
  const method = (req.method ?? 'GET') as Dispatcher.HttpMethod;
  const body =
    method === 'GET' || method === 'HEAD' ? undefined : await readBody(req, options.bodyLimit);
  const forwarded: Record<string, string> = {
    'x-forwarded-for': options.forwardedFor,
    'x-forwarded-proto': 'encrypted' in req.socket ? 'https' : 'http',
  };
  // HTTP/2 names the host in `:authority` (RFC 9113 §8.3.1).
  const host = req.headers.host ?? req.headers[':authority'];
  if (typeof host === 'string') forwarded['x-forwarded-host'] = host;
  await ctx.snapshot.outbound.http(
    {
      target: {
        backend: route.name,
        kind: 'route',
        operation: `${method} ${route.config.path_prefix}`,
        protocol: 'http',
        address: backend.host,
        method,
      },
      ctx,
      timeoutMs: route.config.timeout,
      headers: route.headerRules,
      // A GET or HEAD may go again to another instance; a body-carrying method never does.
      idempotent: (method === 'GET' || method === 'HEAD') && body === undefined,
      ownHeaders: forwarded,
      origin: backend.origin,
      path: `${backend.basePath}${path}${search}`,
      method,
      ...(body === undefined ? {} : { body }),
    },
    async (answer) => {
      res.statusCode = answer.status;
      // Where the gateway answers CORS, the backend's own rules must not replace its answer:
      // its Access-Control-* headers are dropped and its Vary is added to the gateway's.
      const governed = corsGoverned(ctx);
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value === undefined || HOP_BY_HOP.has(name)) continue;
        if (governed && name.startsWith('access-control-')) continue;
        const ours = governed && name === 'vary' ? res.getHeader('vary') : undefined;
        res.setHeader(name, ours === undefined ? value : `${String(ours)}, ${String(value)}`);
      }
      // The client went away or the budget ran out mid-body: the connection is cut, not patched.
      await pipeline(answer.body, res).catch(() => res.destroy());
    },
  );
}
