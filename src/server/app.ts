import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { GrpcChannels } from '../adapters/grpc/channels.ts';
import {
  adminListener,
  CacheConfig,
  HttpLimitsConfig,
  LimitStoreConfig,
  MetricsConfig,
  RedisConfig,
  type LogConfig,
  type ServerConfig,
  type TracingConfig,
} from '../config/schema.ts';
import { openApqCache } from '../gateway/apq-cache.ts';
import { buildGraphQL } from '../gateway/build-gateway.ts';
import { GraphEngines } from '../gateway/engines.ts';
import { createGraphRunner } from '../gateway/graph-runner.ts';
import { createLateGraphRunner } from '../kernel/graph-runner.ts';
import { Pipeline, STAGES, type StageEntry } from '../gateway/pipeline.ts';
import { channels } from '../kernel/channels.ts';
import { createScope } from '../kernel/context.ts';
import { systemClock, type Clock } from '../kernel/clock.ts';
import type { AuthMode, RequestContext } from '../kernel/context.ts';
import type { Route, RouteBackend } from '../routes/route-table.ts';
import type { TranscodeRoute } from '../translate/transcoder.ts';
import {
  codeOfHttpStatus,
  ensureError,
  ErrorCode,
  GatewayError,
  logLevelOf,
} from '../kernel/errors.ts';
import { withoutUserinfo } from '../kernel/redact.ts';
import { correlationIdOf } from '../observability/correlation.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { Telemetry } from '../observability/telemetry.ts';
import { createTracing } from '../observability/trace.ts';
import { HealthChecks } from '../policies/traffic/health-check.ts';
import { Upstreams } from '../policies/traffic/upstream-registry.ts';
import { checkHealth } from '../adapters/grpc/health.ts';
import { Gates } from '../policies/traffic/gate.ts';
import { checkHttpLimits } from '../policies/limits/http-limits.ts';
import { IdentityConfig } from '../config/auth.ts';
import { JwksPool } from '../policies/auth/jwks.ts';
import type { GatewayJwks } from '../policies/auth/gateway-proof.ts';
import { BackendDispatcher } from '../runtime/backend-dispatcher.ts';
import { createGatewayProof } from '../runtime/credentials.ts';
import { Fills } from '../policies/cache/fills.ts';
import { openCacheStore } from '../runtime/cache-store.ts';
import { serveCacheInvalidation } from './cache-admin.ts';
import { openLimitStore } from '../runtime/limit-store.ts';
import { SharedRedis } from '../runtime/redis.ts';
import { SnapshotManager } from '../runtime/snapshot-manager.ts';
import type { SupergraphSource } from '../runtime/sources.ts';
import { createGraphQLRoute } from './graphql-route.ts';
import { onHttp2, sentHeaders } from './edge.ts';
import { createGrpcPort, type GrpcPort } from './grpc-server.ts';
import { BackendHealthCache, serveHealthz, servePlainReadyz, serveReadyz } from './health.ts';
import { Inbound } from './inbound.ts';
import { ClientAddresses } from './client-address.ts';
import { createGraphiQL, GRAPHIQL_PREFIX } from './graphiql.ts';
import { renderLandingPage } from './landing-page.ts';
import { lingerAfterAnswer } from './linger.ts';
import { serveProxied } from './proxy-route.ts';
import { asRequestTimeout, withinBudget } from './request-budget.ts';
import { sendGraphQLError, sendStatusError } from './respond.ts';
import { serveTranscoded } from './transcode-route.ts';

export interface AppOptions {
  source: SupergraphSource;
  server: ServerConfig;
  logger: Logger;
  /** The inbound stages; the placement test runs the real list with probes between stages. */
  stages?: readonly StageEntry[];
  /** Logs, metrics and traces; defaults: request lines on, metrics on, tracing off. */
  observability?: {
    log?: Pick<LogConfig, 'requests'>;
    metrics?: MetricsConfig;
    tracing?: TracingConfig;
    /** Replaces the OTLP exporter (tests: in memory; the bench: a no-op). */
    spanExporter?: SpanExporter;
  };
  /**
   * How identity reaches backends (`auth.identity`), read at start: the gateway's signing keys
   * must outlive reloads. @default the defaults: identity headers and a `jwt` proof
   */
  identity?: IdentityConfig;
  /**
   * Where rate budgets are kept (`limits.store`), read at start: budgets must outlive reloads.
   * @default in memory
   */
  limitStore?: LimitStoreConfig;
  /** The shared Redis (`redis`), read at start. @default none */
  redis?: RedisConfig;
  /**
   * The cache (`cache`): its store is opened at start (`cache.store` and its sizes apply at the
   * next restart); the rest reloads with the snapshot. @default off, in memory
   */
  cache?: CacheConfig;
  /** Time for outlier detection and limits (tests move it by hand). @default the monotonic clock */
  clock?: Clock;
  /**
   * Wall-clock time in ms since the epoch, for credentials' `exp`, `nbf` and `iat` (tests pin
   * it to the time their tokens were made). @default Date.now
   */
  wallClock?: () => number;
}

export interface App {
  /** The node:http request listener. */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * The admin listener's address and request listener (`/healthz`, `/readyz` with its details,
   * the metrics), when the settings ask for one (`server.admin`); main.ts listens there.
   */
  readonly admin:
    | {
        readonly host: string;
        readonly port: number;
        readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
      }
    | undefined;
  readonly manager: SnapshotManager;
  readonly telemetry: Telemetry;
  /** Loads the supergraph and starts Apollo Server; throws when the first load fails. */
  start(): Promise<void>;
  /** From now on /readyz says draining and responses close their connection. */
  drain(): void;
  /** Resolves when no request is in flight. */
  idle(): Promise<void>;
  /** Stops Apollo Server, the gateway, the file watchers and the upstream connection pools. */
  stop(): Promise<void>;
  /**
   * The gRPC port's server (unbound) when the loaded config serves REST backends over gRPC;
   * built once, after `start()`.
   */
  grpcPort(): GrpcPort | undefined;
}

/**
 * Builds the gateway application from its settings without listening, so tests bind it to port
 * 0 and main.ts binds it to the configured port (fastify's build/listen split).
 */
export function buildApp(options: AppOptions): App {
  const { source, server, logger, stages = STAGES } = options;
  const scope = createScope();
  // One keep-alive pool per backend origin and one channel per gRPC address, shared by every
  // snapshot's outbound chain across reloads; so are the upstreams' records.
  const dispatcher = new BackendDispatcher({ connections: 128, pipelining: 1 });
  const grpcChannels = new GrpcChannels();
  // Every backend's instances: balancing, outlier detection and retries; their records outlive
  // snapshots, their settings follow the served config (below, at load and at each reload).
  const upstreams: Upstreams = new Upstreams({
    clock: options.clock ?? systemClock,
    health: new HealthChecks({
      dispatcher,
      channels: grpcChannels,
      checkGrpcHealth: checkHealth,
      onChange: (key, address, healthy) => upstreams.markHealth(key, address, healthy),
    }),
    onEvent: (event) => {
      if (channels.upstream.hasSubscribers) channels.upstream.publish({ ...event, scope });
    },
  });
  // Load shedding's gates: their counts outlive snapshots, their caps are each snapshot's.
  const gates = new Gates(
    (gate, kind) => {
      if (channels.load.hasSubscribers)
        channels.load.publish({
          scope,
          type: 'level',
          gate: kind,
          name: gate.name,
          inFlight: gate.inFlight,
          queued: gate.queued,
        });
    },
    (kind, name, reason) => {
      if (channels.load.hasSubscribers)
        channels.load.publish({ scope, type: 'shed', gate: kind, name, reason });
    },
  );
  const gatewayProof = createGatewayProof({
    identity: options.identity ?? IdentityConfig.parse({}),
  });
  const authLog = logger.child({ component: 'auth' });
  const jwks = new JwksPool({
    dispatcher,
    // A JWKS endpoint that fails is worth a warning: tokens keep verifying with the last keys,
    // but new keys (a rotation) cannot arrive until it answers again.
    onEvent: (event) =>
      event.type === 'jwks_fetch_failed'
        ? authLog.warn({ jwks: withoutUserinfo(event.url), err: event.error }, 'JWKS fetch failed')
        : authLog.debug({ jwks: withoutUserinfo(event.url) }, 'JWKS refreshed'),
  });
  const clientAddresses = new ClientAddresses(server.trusted_proxies);
  // One connection to Redis for every store kept there, opened only if one is.
  const redis = new SharedRedis(options.redis ?? RedisConfig.parse({}));
  const budgets = openLimitStore({
    store: options.limitStore ?? LimitStoreConfig.parse({}),
    redis: redis.config,
    connection: redis,
    ...(options.clock ? { clock: options.clock } : {}),
    onSignal: (signal) => {
      if (channels.limitStore.hasSubscribers) channels.limitStore.publish({ ...signal, scope });
    },
  });
  const limitStore = budgets.store;
  const cacheSettings = options.cache ?? CacheConfig.parse({});
  const cacheStore = openCacheStore({
    cache: cacheSettings,
    connection: redis,
    onSignal: (signal) => {
      if (channels.cache.hasSubscribers) channels.cache.publish({ ...signal, scope });
    },
  });
  // BFF subgraphs run operations on the full graph's Apollo Server, built below the manager.
  const graph = createLateGraphRunner();
  const manager = new SnapshotManager(source, logger.child({ component: 'supergraph' }), {
    watch: server.hot_reload,
    deps: {
      dispatcher,
      grpcChannels,
      upstreams,
      gates,
      jwks,
      limitStore,
      cache: { store: cacheStore, fills: new Fills() },
      identity: { names: gatewayProof.names, proof: gatewayProof.proof },
      ...(options.wallClock ? { wallClock: options.wallClock } : {}),
      graph,
    },
  });
  manager.on('reload', (outcome) => {
    if (outcome.ok && manager.current) upstreams.follow(manager.current.upstreams);
    channels.reload.publish({ scope, ok: outcome.ok });
  });
  const observability = options.observability ?? {};
  const metricsConfig = observability.metrics ?? MetricsConfig.parse({});
  const telemetry = new Telemetry({
    scope,
    // The request line is built field by field from values the gateway controls (ids, names,
    // numbers), so it skips the wildcard redaction that guards arbitrary logged objects: that
    // scan cost 40 µs a line, more than the rest of the observability of a request together.
    logger: logger.child({ component: 'access' }, { redact: [] }),
    events: logger.child({ component: 'traffic' }),
    logRequests: observability.log?.requests ?? true,
    metrics: metricsConfig,
    ...(observability.tracing?.enabled
      ? {
          tracing: createTracing({
            config: observability.tracing,
            ...(observability.spanExporter ? { exporter: observability.spanExporter } : {}),
            onExportError: (error) =>
              logger.warn({ err: error.message }, 'span export failed; that batch is lost'),
          }),
        }
      : {}),
  });
  // With an admin listener, the metrics and readiness's details are served there alone: the
  // public port keeps liveness and a plain readiness answer.
  const admin = adminListener(server);
  const metricsPath = telemetry.metrics ? metricsConfig.path : undefined;
  const publicMetricsPath = admin ? undefined : metricsPath;
  const pipeline = new Pipeline(stages);
  const inbound = new Inbound({ scope, pipeline, current: () => manager.current, server });
  const apq = openApqCache({
    config: server.apq_cache,
    connection: redis,
    maxDocumentBytes: server.body_limit,
    onSignal: (signal) => {
      if (channels.apqStore.hasSubscribers) channels.apqStore.publish({ ...signal, scope });
    },
  });
  const engine = { manager, server, logger, pipeline, apqCache: apq.cache };
  const engines = new GraphEngines({
    whole: buildGraphQL(engine),
    build: (supergraphSdl) => buildGraphQL({ ...engine, supergraphSdl }),
    current: () => manager.current,
  });
  manager.serveWith(engines);
  graph.bind(createGraphRunner(engines.whole));
  const serveGraphQL = createGraphQLRoute({
    engines,
    bodyLimit: server.body_limit,
    batching: server.batching,
  });
  const introspection = server.introspection ?? server.mode === 'development';
  const landingPage = server.landing_page ?? introspection;
  // Development serves GraphiQL in place of the landing page; production keeps the plain page
  // (off unless `landing_page`), and serves none of GraphiQL's files.
  const graphiql = landingPage && server.mode === 'development' ? createGraphiQL() : undefined;
  const landingHtml = landingPage && !graphiql ? renderLandingPage(server.graphql_path) : undefined;

  let state: 'starting' | 'ready' | 'draining' = 'starting';
  let grpcPort: GrpcPort | undefined;
  const backendHealth = new BackendHealthCache();
  const inFlight = new Set<ServerResponse>();
  let idleWaiters: (() => void)[] = [];

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    const search = queryAt === -1 ? '' : url.slice(queryAt);
    const method = req.method ?? 'GET';

    const jwksServed = path === JWKS_PATH ? gatewayProof.jwks() : undefined;
    if (jwksServed || path === '/healthz' || path === '/readyz' || path === publicMetricsPath) {
      if (!admitOutside(req, res, url, path)) return;
      if (jwksServed) return serveJwks(res, jwksServed);
      if (path === '/healthz') return serveHealthz(res);
      // An admin listener has the details; whoever reaches the public port gets the status.
      if (path === '/readyz')
        return admin
          ? servePlainReadyz(res, manager, state)
          : serveReadyz(res, manager, state, backendHealth, upstreams);
      return serveMetrics(res, telemetry.metrics as GatewayMetrics);
    }
    if (graphiql && path.startsWith(GRAPHIQL_PREFIX)) {
      if (!admitOutside(req, res, url, path)) return;
      return serveGraphiQLAsset(req, res, path, graphiql);
    }
    // A configured client's endpoint is GraphQL too, served by the same Apollo Server; the
    // snapshot's clients are read so a reload that adds one serves it.
    const isGraphQL =
      path === server.graphql_path || manager.current?.clients.byEndpoint.has(path) === true;
    // GraphiQL's page is a static file, like its scripts: served before the stages, so an
    // endpoint with `auth: required` still opens in a browser, its token typed into the headers
    // editor. Every request the page sends goes through all of them.
    if (graphiql && isGraphQL && method === 'GET' && !search && prefersHtml(req.headers.accept)) {
      if (!admitOutside(req, res, url, path)) return;
      return graphiql.servePage(res, path);
    }
    const ctx =
      state === 'starting'
        ? undefined
        : inbound.open({
            surface: isGraphQL ? 'graphql' : 'rest',
            method,
            path,
            headers: stageHeaders(req),
            clientAddress: clientAddresses.of(
              req.socket.remoteAddress,
              req.headers['x-forwarded-for'],
            ),
            http: { url, rawHeaders: sentHeaders(req.rawHeaders) },
            name: `${method} ${isGraphQL ? path : 'rest'}`,
            attributes: { 'http.request.method': method, 'url.path': path },
          });
    if (!ctx) {
      const error = new GatewayError(
        ErrorCode.SUPERGRAPH_NOT_READY,
        'The gateway has not loaded a supergraph yet.',
      );
      markCorrelation(req, res);
      if (isGraphQL) sendGraphQLError(res, error, req.headers.accept);
      else sendStatusError(res, error, '');
      return;
    }
    res.once('close', () => {
      const status = res.headersSent ? res.statusCode : 499;
      const [firstCode] = ctx.facts.errorCodes;
      inbound.close(ctx, status, firstCode ?? (status >= 400 ? codeOfHttpStatus(status) : 'ok'));
    });
    await respond(req, res, ctx, search, isGraphQL);
  }

  async function serveGraphiQLAsset(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    served: NonNullable<typeof graphiql>,
  ): Promise<void> {
    try {
      await served.serveAsset(req, res, path);
    } catch (caught) {
      const correlationId = res.getHeader(server.correlation_header) as string;
      logger.error({ err: ensureError(caught), correlationId, path }, 'GraphiQL file unreadable');
      if (res.headersSent) res.destroy();
      else
        sendStatusError(
          res,
          new GatewayError(ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error.'),
          correlationId,
        );
    }
  }

  /** The admin listener: liveness, readiness with its details, the metrics; nothing else. */
  async function routeAdmin(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    if (!admitOutside(req, res, url, path)) return;
    if (path === '/healthz') return serveHealthz(res);
    if (path === '/readyz') return serveReadyz(res, manager, state, backendHealth, upstreams);
    if (path === metricsPath) return serveMetrics(res, telemetry.metrics as GatewayMetrics);
    if (path === '/cache/invalidate') {
      try {
        return await serveCacheInvalidation(req, res, server.admin?.token, manager.current);
      } catch (error) {
        if (!(error instanceof GatewayError)) throw error;
        return sendStatusError(res, error, res.getHeader(server.correlation_header) as string);
      }
    }
    const served = [
      '/healthz',
      '/readyz',
      ...(metricsPath ? [metricsPath] : []),
      'POST /cache/invalidate',
    ].join(', ');
    const error = new GatewayError(
      ErrorCode.NOT_FOUND,
      `No ${path} on the admin listener; it serves ${served}.`,
    );
    sendStatusError(res, error, res.getHeader(server.correlation_header) as string);
  }

  /**
   * Answers outside the request path (probes, scrapes, the JWKS) skip the stages and the log
   * line, but carry the correlation id every response carries, and the HTTP limits are checked
   * here: every request on a port is measured (a snapshot's limits once one is loaded, the
   * defaults before). False when the request was refused.
   */
  function admitOutside(
    req: IncomingMessage,
    res: ServerResponse,
    url: string,
    path: string,
  ): boolean {
    markCorrelation(req, res);
    const overLimit = checkHttpLimits(
      { url, rawHeaders: sentHeaders(req.rawHeaders) },
      manager.current?.limits.http ?? DEFAULT_HTTP_LIMITS,
    );
    if (!overLimit) return true;
    const correlationId = res.getHeader(server.correlation_header) as string;
    logger.info({ correlationId, code: overLimit.code, path }, 'request refused');
    sendStatusError(res, overLimit, correlationId);
    return false;
  }

  function markCorrelation(req: IncomingMessage, res: ServerResponse): void {
    res.setHeader(
      server.correlation_header,
      correlationIdOf(req.headers[server.correlation_header]),
    );
  }

  async function respond(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    search: string,
    isGraphQL: boolean,
  ): Promise<void> {
    const { method } = ctx;
    const accept = req.headers.accept;
    try {
      // What a REST request reached is known before the stages run, so they apply its policy
      // (a route's or method's `auth`); a path nothing serves is answered after them, with the
      // correlation id every answer carries.
      const endpoint = isGraphQL ? undefined : matchRest(req, ctx);
      if (endpoint?.auth !== undefined) ctx.authMode = endpoint.auth;
      // The GraphQL endpoint's introspection setting (identifyClient sets a client's); what a
      // client's endpoint demands of callers is known from its path, before authenticate runs.
      if (isGraphQL) {
        ctx.introspection = introspection;
        const auth = ctx.snapshot.clients.atEndpoint(ctx.path)?.authMode;
        if (auth !== undefined) ctx.authMode = auth;
      }
      await withinBudget(ctx, inbound.admit(ctx));
      applyResponseHeaders(res, ctx);
      // A stage answered in place of the endpoint (a CORS preflight): its status, no body.
      if (ctx.reply) {
        res.statusCode = ctx.reply.status;
        res.end();
        return;
      }
      // A draining gateway still serves: requests arriving now come from clients and balancers
      // that have not yet seen readiness turn.
      if (endpoint) {
        await serveRest(req, res, ctx, endpoint, search);
        return;
      }
      if (method !== 'GET' && method !== 'POST') {
        res.setHeader('allow', 'GET, POST');
        throw new GatewayError(
          ErrorCode.METHOD_NOT_ALLOWED,
          `Method ${method} is not allowed; use GET or POST.`,
        );
      }
      if (
        landingHtml &&
        ctx.path === server.graphql_path &&
        method === 'GET' &&
        !search &&
        prefersHtml(accept)
      ) {
        res.setHeader('content-type', 'text/html; charset=utf-8');
        res.end(landingHtml);
        return;
      }
      await serveGraphQL(req, res, ctx, search);
    } catch (caught) {
      // A route's or transcoded call's timeout at the end of the budget is the request's.
      const error = asRequestTimeout(
        ctx,
        caught instanceof GatewayError
          ? caught
          : new GatewayError(ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error.', {
              cause: caught,
            }),
      );
      const level = logLevelOf(error.code);
      logger[level](
        {
          // Only a failure's stack is worth formatting (see plugins/error-log.ts).
          ...(level === 'error' ? { err: ensureError(error.originalError ?? caught) } : {}),
          correlationId: ctx.correlationId,
          code: error.code,
          ...(level === 'error' ? {} : { message: error.message }),
        },
        'request failed',
      );
      ctx.facts.errorCodes.add(error.code);
      // The rest of an oversize body is read and dropped for a bounded time only, then the
      // connection closes; closing at once would lose the 413 to the client (linger.ts).
      // On HTTP/2 the stream is reset after the answer and the connection goes on.
      if (error.code === ErrorCode.PAYLOAD_TOO_LARGE && !res.headersSent && !onHttp2(res))
        lingerAfterAnswer(req, res);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // Stages that ran before the failure still mark the answer (the correlation id above all).
      applyResponseHeaders(res, ctx);
      if (isGraphQL) sendGraphQLError(res, error, accept, ctx.correlationId);
      else sendStatusError(res, error, ctx.correlationId);
    }
  }

  /**
   * Every path but the GraphQL endpoint: gRPC methods by their HTTP bindings first (exact
   * templates), then plain REST routes by prefix.
   */
  function matchRest(req: IncomingMessage, ctx: RequestContext): RestEndpoint {
    const { method, path, snapshot } = ctx;
    const transcoded = snapshot.transcoder.match(method, path);
    if (transcoded?.kind === 'route') {
      ctx.facts.route = `${method} ${transcoded.route.binding.template.source}`;
      return {
        kind: 'transcoded',
        route: transcoded.route,
        pathValues: transcoded.pathValues,
        auth: transcoded.route.auth,
      };
    }
    const routed = snapshot.routes.match(
      method,
      path,
      req.headers,
      Math.random,
      (_route, backend) => upstreams.refuses(backend.origin),
    );
    if (routed?.kind === 'route') {
      ctx.facts.route = routed.route.name;
      return {
        kind: 'proxied',
        route: routed.route,
        backend: routed.backend,
        path: routed.path,
        auth: routed.route.config.auth,
      };
    }
    return {
      kind: 'none',
      allowed: [...(transcoded?.allowed ?? []), ...(routed?.allowed ?? [])],
      auth: undefined,
    };
  }

  /** A matched REST endpoint is served; errors answer as google.rpc.Status JSON. */
  async function serveRest(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    endpoint: RestEndpoint,
    search: string,
  ): Promise<void> {
    const { method, path } = ctx;
    if (endpoint.kind === 'transcoded')
      return serveTranscoded(req, res, ctx, endpoint.route, endpoint.pathValues, search, {
        bodyLimit: server.body_limit,
        mask: server.mode === 'production',
      });
    if (endpoint.kind === 'proxied')
      return serveProxied(req, res, ctx, endpoint.route, endpoint.backend, endpoint.path, search, {
        bodyLimit: server.body_limit,
        forwardedFor: clientAddresses.forwardedFor(
          req.socket.remoteAddress,
          req.headers['x-forwarded-for'],
        ),
      });
    if (endpoint.allowed.length > 0) {
      res.setHeader('allow', endpoint.allowed.join(', '));
      throw new GatewayError(
        ErrorCode.METHOD_NOT_ALLOWED,
        `Method ${method} is not allowed on ${path}; use ${endpoint.allowed.join(' or ')}.`,
      );
    }
    throw new GatewayError(
      ErrorCode.NOT_FOUND,
      `No route for ${method} ${path}; GraphQL is served at ${server.graphql_path}.`,
    );
  }

  return {
    handle(req, res) {
      inFlight.add(res);
      if (state === 'draining' && !onHttp2(res)) res.setHeader('connection', 'close');
      res.once('close', () => {
        inFlight.delete(res);
        if (inFlight.size === 0 && idleWaiters.length > 0) {
          for (const resolve of idleWaiters) resolve();
          idleWaiters = [];
        }
      });
      void route(req, res);
    },
    admin: admin && {
      ...admin,
      handle(req, res) {
        void routeAdmin(req, res);
      },
    },
    manager,
    telemetry,
    async start() {
      await Promise.all([
        budgets.start(),
        apq.start(),
        cacheStore.start((options.redis ?? RedisConfig.parse({})).connect_timeout),
      ]);
      upstreams.follow((await manager.load()).upstreams);
      await engines.start();
      state = 'ready';
    },
    grpcPort() {
      const snapshot = manager.current;
      if (!snapshot?.grpcFront) return undefined;
      grpcPort ??= createGrpcPort({
        front: snapshot.grpcFront,
        reflection: snapshot.grpcServer.reflection,
        inbound,
        logger: logger.child({ component: 'grpc' }),
      });
      return grpcPort;
    },
    drain() {
      state = 'draining';
      grpcPort?.drain();
      // Requests already running answer with Connection: close, so clients reconnect elsewhere.
      // (HTTP/2 sessions get GOAWAY from the listener instead: edge.ts.)
      for (const res of inFlight)
        if (!res.headersSent && !onHttp2(res)) res.setHeader('connection', 'close');
    },
    idle() {
      if (inFlight.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    async stop() {
      manager.stop();
      upstreams.close();
      gatewayProof.close();
      jwks.close();
      await budgets.close();
      await cacheStore.close();
      redis.close();
      // Client connections are closed by now: fetches still running have no one to answer.
      await dispatcher.destroyAll();
      grpcChannels.close();
      await engines.stop();
      await telemetry.close();
    },
  };
}

const DEFAULT_HTTP_LIMITS = HttpLimitsConfig.parse({});

/** Where backends fetch the public keys of the gateway's `jwt` proofs (RFC 8615 well-known). */
export const JWKS_PATH = '/.well-known/jwks.json';

/**
 * The gateway's public keys: the current and the previous signing key. Backends cache them for
 * a minute: a new key is published before it signs (see gateway-keys.ts), so none misses it.
 */
function serveJwks(res: ServerResponse, jwks: GatewayJwks): void {
  res.setHeader('content-type', 'application/jwk-set+json');
  res.setHeader('cache-control', 'public, max-age=60');
  res.end(JSON.stringify(jwks));
}

/** Prometheus text format, scraped by Prometheus or any OpenMetrics-compatible agent. */
export async function serveMetrics(res: ServerResponse, metrics: GatewayMetrics): Promise<void> {
  const { body, contentType } = await metrics.scrape();
  res.setHeader('content-type', contentType);
  res.end(body);
}

/** What a REST request reached, and what that endpoint demands of its caller. */
type RestEndpoint = { readonly auth: AuthMode | undefined } & (
  | { kind: 'transcoded'; route: TranscodeRoute; pathValues: ReadonlyMap<string, string> }
  | { kind: 'proxied'; route: Route; backend: RouteBackend; path: string }
  | { kind: 'none'; allowed: readonly string[] }
);

function applyResponseHeaders(res: ServerResponse, ctx: RequestContext): void {
  for (const [name, value] of ctx.responseHeaders) res.setHeader(name, value);
}

/**
 * The request's headers as the stages read them. Node keeps the first of repeated
 * `Authorization` headers and drops the others, so a request carrying two credentials would be
 * judged by the first alone; the stages get every value, and `authenticate` refuses a repeated
 * credential header (docs/auth.md) rather than pick one.
 */
function stageHeaders(req: IncomingMessage): IncomingHttpHeaders {
  if (req.headers.authorization === undefined) return req.headers;
  const values: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i]?.toLowerCase() === 'authorization') values.push(raw[i + 1] ?? '');
  if (values.length < 2) return req.headers;
  // IncomingHttpHeaders types `authorization` as one string; the stage reads a list as refused.
  return { ...req.headers, authorization: values as unknown as string };
}

/** Browsers ask for text/html first; GraphQL clients never do. */
function prefersHtml(accept: string | undefined): boolean {
  return accept !== undefined && accept.startsWith('text/html');
}
