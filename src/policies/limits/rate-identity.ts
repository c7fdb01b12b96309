import { isIP } from 'node:net';
import type { RequestContext } from '../../kernel/context.ts';

/**
 * Whose budget a request spends: the verified caller when `authenticate` verified one, else the
 * client address. Only verified facts key a budget (a client-chosen header never does, or a
 * caller could spread a flood over invented names):
 *
 * - an API key: its client id (`key:<client id>`, or the entry's name without one), so every
 *   key of one client shares its budget;
 * - a token: issuer and subject (`sub:<issuer> <subject>`): the same `sub` from two issuers is
 *   two callers;
 * - anonymous: the address (`ip:<address>`), an IPv6 address by its /64, the block one host is
 *   usually given, so a host cannot take a fresh budget per address.
 *
 * A configured client's requests (`ctx.client`) spend budgets of their own (`<client>|...`): a
 * caller of `web` and `mobile` has a budget on each, sized by each client's policies.
 */
export function rateIdentity(ctx: RequestContext): string {
  const caller = callerOf(ctx);
  return ctx.client ? `${ctx.client.id}|${caller}` : caller;
}

function callerOf(ctx: RequestContext): string {
  const identity = ctx.identity;
  if (identity?.kind === 'api_key') return `key:${identity.clientId ?? identity.subject}`;
  if (identity) return `sub:${identity.issuer ?? ''} ${identity.subject}`;
  return `ip:${addressBlock(ctx.clientAddress)}`;
}

/** An IPv4 address as is; an IPv6 address as its /64 (`2001:db8:0:1::/64`). */
export function addressBlock(address: string): string {
  if (isIP(address) !== 6) return address;
  return `${expandIpv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of an IPv6 address, without leading zeros (`::` expanded). */
function expandIpv6(address: string): string[] {
  const [head = '', tail] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  // An embedded IPv4 tail (`::ffff:1.2.3.4`) is two groups.
  const last = right.length > 0 ? right : left;
  const dotted = last[last.length - 1];
  if (dotted?.includes('.')) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted.split('.').map(Number);
    last.splice(last.length - 1, 1, ((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
  }
  const missing = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(missing).fill('0'), ...right].map((g) =>
    (parseInt(g, 16) || 0).toString(16),
  );
}
