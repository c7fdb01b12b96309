import { HOP_BY_HOP } from '../../kernel/outbound.ts';
import type { Interceptor } from './exchange.ts';

/** Never passed on from a client, whatever the rules name: the connection's and the framing's. */
const NEVER_FORWARDED = new Set([...HOP_BY_HOP, 'host', 'content-length']);

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
