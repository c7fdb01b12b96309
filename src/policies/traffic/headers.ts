import type { Interceptor } from './chain.ts';

/**
 * Headers that describe one connection (RFC 9110 section 7.6.1) or the message's framing: never
 * passed on from a client, whatever the rules name.
 */
const NEVER_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'host',
  'content-length',
]);

/**
 * What a backend receives, from lowest to highest precedence (Apollo Router's propagation
 * model): the client headers its rules forward by name, the rules' static headers, the call's
 * own headers (content type, a field's `headers`), and the headers the gateway's stages set
 * (correlation id, identity), which nothing overrides. A client header no rule names never
 * reaches a backend.
 */
export const propagateHeaders: Interceptor = (next) => (exchange) => {
  const { headers, rules, ctx, own } = exchange;
  if (rules && ctx) {
    for (const name of rules.forward) {
      if (NEVER_FORWARDED.has(name)) continue;
      const value = ctx.headers[name];
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
  }
  if (rules) Object.assign(headers, rules.set);
  if (own) Object.assign(headers, own);
  if (ctx) Object.assign(headers, ctx.upstreamHeaders);
  return next(exchange);
};
