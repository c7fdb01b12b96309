import type { CorsConfig } from '../../config/schema.ts';
import type { RequestContext } from '../../kernel/context.ts';

/**
 * One endpoint's CORS rules, compiled once per loaded config (runtime/snapshot.ts): what the
 * `cors` stage reads. Implements the server side of the Fetch standard's CORS protocol,
 * https://fetch.spec.whatwg.org/#http-cors-protocol.
 */
export interface CorsPolicy {
  /** Whether a request from `origin` may read the answer. */
  allows(origin: string): boolean;
  /** `*` is among the origins: any origin, never with credentials (config/schema.ts refuses it). */
  readonly anyOrigin: boolean;
  readonly credentials: boolean;
  /** Methods a preflight may ask for, upper-cased as the config lists them. */
  readonly methods: ReadonlySet<string>;
  readonly allowMethods: string;
  /** The configured `Access-Control-Allow-Headers`; undefined mirrors what a preflight asks. */
  readonly allowHeaders: string | undefined;
  readonly exposeHeaders: string;
  /** `Access-Control-Max-Age` in whole seconds; undefined sends none. */
  readonly maxAge: string | undefined;
}

/** The headers an answer depends on: a cache must key on them (Fetch, "CORS protocol and HTTP caches"). */
const VARY_ACTUAL = 'origin';
const VARY_PREFLIGHT = 'origin, access-control-request-method, access-control-request-headers';

/** A preflight an endpoint refuses: no allow headers (the browser fails it), and not `ok`. */
export const PREFLIGHT_REFUSED_STATUS = 403;

/**
 * The gateway's own response headers a page may read by default: the correlation id to quote
 * in a report, and the rate-limit headers to back off by (none is CORS-safelisted).
 */
export function defaultExposedHeaders(correlationHeader: string): readonly string[] {
  return [correlationHeader, 'ratelimit', 'ratelimit-policy', 'retry-after'];
}

export function compileCors(config: CorsConfig, correlationHeader: string): CorsPolicy {
  const exact = new Set(config.origins.filter((o) => o !== '*'));
  const patterns = config.match_origins.map((source) => new RegExp(`^(?:${source})$`));
  return Object.freeze({
    // An opaque origin (`null`: sandboxed frames, file: pages, some redirects) is shared by
    // every such page, so naming it would allow them all; no rule allows it.
    allows: (origin: string) =>
      origin !== 'null' && (exact.has(origin) || patterns.some((p) => p.test(origin))),
    anyOrigin: config.origins.includes('*'),
    credentials: config.allow_credentials,
    methods: new Set(config.methods),
    allowMethods: config.methods.join(', '),
    allowHeaders: config.allow_headers?.join(', '),
    exposeHeaders: (config.expose_headers ?? defaultExposedHeaders(correlationHeader)).join(', '),
    maxAge: config.max_age === undefined ? undefined : String(Math.floor(config.max_age / 1000)),
  });
}

/** Requests whose answer the gateway's CORS rules govern (their endpoint has a policy). */
const governed = new WeakSet<RequestContext>();

/**
 * Whether the gateway answers this request's CORS itself: a proxied backend's own
 * `Access-Control-*` headers must then not replace the gateway's (server/proxy-route.ts).
 */
export function corsGoverned(ctx: RequestContext): boolean {
  return governed.has(ctx);
}

/** The request's endpoint's policy: its client's (by endpoint), else the top-level `cors`. */
function policyOf(ctx: RequestContext): CorsPolicy | undefined {
  const { snapshot } = ctx;
  // The endpoint decides, never a credential: a preflight carries none, and its answer must
  // hold for the request that follows it.
  return snapshot.clients.atEndpoint(ctx.path)?.cors ?? snapshot.cors;
}

/**
 * Stage: the CORS protocol. A preflight (OPTIONS with `Origin` and
 * `Access-Control-Request-Method`) is answered here, before credentials are read (a browser sends
 * none with it) and before anything upstream: 204 with the allow headers, or 403 without them
 * when the origin or method is not allowed. Any other request from an allowed origin gets
 * `Access-Control-Allow-Origin` and the rest on its answer, error answers included, since later
 * stages' refusals carry `responseHeaders`. A request from an origin not allowed is served as
 * usual without them: the browser hides the answer from the page, and same-origin requests
 * (which carry `Origin` on POST too) keep working. Every answer of a governed endpoint says
 * `Vary: Origin`, so a shared cache never hands one origin's answer to another.
 */
export function cors(ctx: RequestContext): void {
  const policy = policyOf(ctx);
  if (!policy) return;
  governed.add(ctx);
  const origin = ctx.headers.origin;
  const requestedMethod = ctx.headers['access-control-request-method'];
  const preflight =
    ctx.method === 'OPTIONS' && origin !== undefined && typeof requestedMethod === 'string';
  const headers = ctx.responseHeaders;
  headers.set('vary', preflight ? VARY_PREFLIGHT : VARY_ACTUAL);
  const allowed =
    origin !== undefined && (policy.anyOrigin || policy.allows(origin)) ? origin : undefined;
  if (!preflight) {
    if (allowed !== undefined) allowOrigin(headers, policy, allowed);
    if (allowed !== undefined && policy.exposeHeaders !== '')
      headers.set('access-control-expose-headers', policy.exposeHeaders);
    return;
  }
  if (allowed === undefined || !policy.methods.has(normalizeMethod(requestedMethod))) {
    ctx.reply = { status: PREFLIGHT_REFUSED_STATUS };
    return;
  }
  allowOrigin(headers, policy, allowed);
  headers.set('access-control-allow-methods', policy.allowMethods);
  const allowHeaders =
    policy.allowHeaders ?? mirrored(ctx.headers['access-control-request-headers']);
  if (allowHeaders) headers.set('access-control-allow-headers', allowHeaders);
  if (policy.maxAge !== undefined) headers.set('access-control-max-age', policy.maxAge);
  ctx.reply = { status: 204 };
}

function allowOrigin(headers: Map<string, string>, policy: CorsPolicy, origin: string): void {
  // An origin a rule names is echoed (a credentialed answer must name it); `*` alone answers `*`
  // (config/schema.ts refuses `*` with credentials).
  headers.set('access-control-allow-origin', policy.allows(origin) ? origin : '*');
  if (policy.credentials) headers.set('access-control-allow-credentials', 'true');
}

/** Fetch's method normalization: these six are compared upper-cased, any other as sent. */
const NORMALIZED = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);
function normalizeMethod(method: string): string {
  const upper = method.toUpperCase();
  return NORMALIZED.has(upper) ? upper : method;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The header names a preflight asks for, as a list the answer may carry: names only. */
function mirrored(requested: string | string[] | undefined): string {
  if (typeof requested !== 'string') return '';
  return requested
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => TOKEN.test(name))
    .join(', ');
}
