import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Dispatcher } from 'undici';
import { callBudget, type RequestContext } from '../kernel/context.ts';
import { ErrorCode, GatewayError } from '../kernel/errors.ts';
import { observeCall } from '../kernel/observe.ts';
import { failureCode } from '../kernel/upstream-http.ts';
import type { Route, RouteBackend } from '../routes/route-table.ts';
import { readBody } from './read-body.ts';

/** Request headers every route passes on: content negotiation and conditional requests. */
const PASSED = [
  'accept',
  'accept-encoding',
  'accept-language',
  'content-type',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'range',
  'user-agent',
];

/** Hop-by-hop headers (RFC 9110 section 7.6.1) stay with the connection they came on. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
]);

export interface ProxyOptions {
  dispatcher: Dispatcher;
  bodyLimit: number;
}

/**
 * Proxies one request to the backend a route chose. The body is read within `body_limit` first
 * (a refused body never reaches the backend); the answer streams back as it arrives with its
 * status and end-to-end headers. Client headers pass only from the list above and the route's
 * `forward_headers`; identity and correlation come from the stages (`ctx.upstreamHeaders`).
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
  const method = req.method ?? 'GET';
  const headers: Record<string, string> = {};
  for (const name of [...PASSED, ...route.config.forward_headers]) {
    const value = req.headers[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  Object.assign(headers, ctx.upstreamHeaders);
  headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
  headers['x-forwarded-proto'] = 'encrypted' in req.socket ? 'https' : 'http';
  if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
  const body =
    method === 'GET' || method === 'HEAD' ? undefined : await readBody(req, options.bodyLimit);

  const timeoutMs = callBudget(ctx, route.config.timeout);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const label = `Route "${route.name}" backend ${backend.index}`;
  const record = observeCall(ctx, {
    backend: route.name,
    kind: 'route',
    operation: `${method} ${route.config.path_prefix}`,
    protocol: 'http',
    address: backend.host,
    method,
  });
  Object.assign(headers, record.headers);
  try {
    let answer: Dispatcher.ResponseData;
    try {
      answer = await options.dispatcher.request({
        origin: backend.origin,
        path: `${backend.basePath}${path}${search}`,
        method: method as Dispatcher.HttpMethod,
        headers,
        body,
        signal: controller.signal,
      });
    } catch (error) {
      const code = failureCode(error, controller.signal.aborted);
      record.end(code);
      throw new GatewayError(
        code,
        code === ErrorCode.UPSTREAM_TIMEOUT
          ? `${label} did not answer within ${timeoutMs} ms.`
          : code === ErrorCode.UPSTREAM_UNAVAILABLE
            ? `${label} is unavailable.`
            : `${label} failed.`,
        { cause: error },
      );
    }
    // A backend's 5xx is its failure; any other status is an answer the client asked for.
    record.end(answer.statusCode >= 500 ? ErrorCode.UPSTREAM_ERROR : 'ok', answer.statusCode);
    res.statusCode = answer.statusCode;
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) res.setHeader(name, value);
    }
    // The client went away or the budget ran out mid-body: the connection is cut, not patched.
    await pipeline(answer.body, res).catch(() => res.destroy());
  } finally {
    clearTimeout(timer);
  }
}
