import type { HeaderRules } from '../kernel/outbound.ts';
import type { IncomingHttpHeaders } from 'node:http';
import type { RouteConfig } from '../config/schema.ts';

/**
 * Plain REST routes (`routes` in supergraph.yaml): which route a request takes and which of its
 * backends serves it. The longest matching prefix wins, whole segments only, so `/api/users`
 * never catches `/api/usersettings`; among equal prefixes the first in the file that matches
 * method and headers wins.
 */

export interface RouteBackend {
  readonly origin: string;
  /** `host:port`, for spans. */
  readonly host: string;
  /** The backend URL's own path, prepended to the rewritten request path. */
  readonly basePath: string;
  readonly weight: number;
  readonly whenHeaders: readonly (readonly [string, string])[];
  /** Position in the route's `backends`, for logs and tests. */
  readonly index: number;
}

export interface Route {
  readonly name: string;
  readonly config: RouteConfig;
  /** Client headers passed on: content negotiation, conditional requests, `forward_headers`. */
  readonly headerRules: HeaderRules;
  readonly backends: readonly RouteBackend[];
  readonly totalWeight: number;
}

export type RouteMatch =
  | { kind: 'route'; route: Route; backend: RouteBackend; path: string }
  | { kind: 'method'; allowed: string[] };

export interface RouteTable {
  readonly routes: readonly Route[];
  /**
   * `random` in [0, 1) picks the weighted share when the route has no `split_by` id; `avoid`
   * names backends not to pick while another will do (those whose circuit is open).
   */
  match(
    method: string,
    path: string,
    headers: IncomingHttpHeaders,
    random?: () => number,
    avoid?: Avoid,
  ): RouteMatch | undefined;
}

/** A backend the route should pass over for now. */
export type Avoid = (route: Route, backend: RouteBackend) => boolean;

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

export function createRouteTable(configs: readonly RouteConfig[]): RouteTable {
  const routes: Route[] = configs.map((config) => {
    const backends = config.backends.map((backend, index) => {
      const url = new URL(backend.url);
      return {
        origin: url.origin,
        host: url.host,
        basePath: url.pathname.replace(/\/+$/, ''),
        weight: backend.weight,
        whenHeaders: Object.entries(backend.when_headers),
        index,
      };
    });
    return {
      name: config.name ?? config.path_prefix,
      config,
      headerRules: { forward: [...PASSED, ...config.forward_headers], set: {} },
      backends,
      totalWeight: backends.reduce((sum, b) => sum + b.weight, 0),
    };
  });
  const byPrefix = [...routes].sort(
    (a, b) => b.config.path_prefix.length - a.config.path_prefix.length,
  );
  return {
    routes,
    match(method, path, headers, random = Math.random, avoid) {
      const allowed = new Set<string>();
      for (const route of byPrefix) {
        const { config } = route;
        if (!underPrefix(path, config.path_prefix)) continue;
        if (!hasHeaders(headers, Object.entries(config.headers))) continue;
        if (config.methods && !config.methods.includes(method as never)) {
          for (const m of config.methods) allowed.add(m);
          continue;
        }
        const backend = chooseBackend(route, headers, random, avoid);
        if (!backend) continue;
        return { kind: 'route', route, backend, path: rewrite(path, config) };
      }
      return allowed.size > 0 ? { kind: 'method', allowed: [...allowed] } : undefined;
    },
  };
}

function underPrefix(path: string, prefix: string): boolean {
  if (prefix === '/') return true;
  return path === prefix || (path.startsWith(prefix) && path[prefix.length] === '/');
}

function hasHeaders(
  headers: IncomingHttpHeaders,
  wanted: readonly (readonly [string, string])[],
): boolean {
  return wanted.every(([name, value]) => headers[name] === value);
}

/** `/api/users/1` under `/api/users` rewritten to `/users` is `/users/1`. */
function rewrite(path: string, config: RouteConfig): string {
  if (config.rewrite_prefix === undefined) return path;
  const rest = config.path_prefix === '/' ? path : path.slice(config.path_prefix.length);
  const joined = config.rewrite_prefix.replace(/\/$/, '') + rest;
  return joined.startsWith('/') ? joined : `/${joined}`;
}

/**
 * Header canaries first (a backend whose `when_headers` all match), then the weighted split:
 * by a hash of the `split_by` client id when the request has one, so the same client keeps
 * landing on the same backend while weights stay put, else at random. Backends to `avoid` are
 * left out of the split while another has weight, their share going to the others in
 * proportion; when every one is to be avoided the split is the usual one (the call then fails
 * fast, or is the trial that finds the backend back).
 */
export function chooseBackend(
  route: Route,
  headers: IncomingHttpHeaders,
  random: () => number,
  avoid?: Avoid,
): RouteBackend | undefined {
  const usable = (backend: RouteBackend) => !avoid?.(route, backend);
  for (const backend of route.backends) {
    if (
      backend.whenHeaders.length > 0 &&
      hasHeaders(headers, backend.whenHeaders) &&
      usable(backend)
    )
      return backend;
  }
  let pool = route.backends;
  let total = route.totalWeight;
  if (avoid && route.backends.some((b) => !usable(b))) {
    const healthy = route.backends.filter((b) => b.weight > 0 && usable(b));
    if (healthy.length > 0) {
      pool = healthy;
      total = healthy.reduce((sum, b) => sum + b.weight, 0);
    }
  }
  if (total === 0) return undefined;
  const id = route.config.split_by ? headers[route.config.split_by] : undefined;
  const point =
    typeof id === 'string' && id !== ''
      ? fnv1a(`${route.name}\0${id}`) % total
      : Math.floor(random() * total);
  let sum = 0;
  for (const backend of pool) {
    sum += backend.weight;
    if (point < sum) return backend;
  }
  return undefined;
}

/**
 * FNV-1a, 32 bits, with murmur3's finaliser so the low bits a modulo keeps are well mixed: fast,
 * and the same in every process and instance.
 */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
