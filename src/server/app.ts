import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Agent } from 'undici';
import { GrpcChannels } from '../adapters/grpc/channels.ts';
import type { SupergraphSnapshot, SupergraphSource } from '../composition/sources.ts';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import {
  MetricsConfig,
  type LogConfig,
  type ServerConfig,
  type TracingConfig,
  type CircuitBreakerConfig,
} from '../config/schema.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { Telemetry } from '../observability/telemetry.ts';
import { createTracing } from '../observability/trace.ts';
import { buildGraphQL } from '../gateway/build-gateway.ts';
import { runStages, STAGES, type StageEntry } from '../gateway/pipeline.ts';
import { SupergraphManager } from '../gateway/supergraph-manager.ts';
import { systemClock, type Clock } from '../kernel/clock.ts';
import { createRequestContext, type RequestContext } from '../kernel/context.ts';
import { Breakers } from '../policies/traffic/breaker.ts';
import { ensureError, ErrorCode, GatewayError, logLevelOf } from '../kernel/errors.ts';
import { createGraphQLRoute } from './graphql-route.ts';
import { BackendHealthCache, serveHealthz, serveReadyz } from './health.ts';
import { renderLandingPage } from './landing-page.ts';
import { createGrpcPort, type GrpcPort } from './grpc-server.ts';
import { serveProxied } from './proxy-route.ts';
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
  /** Circuit breakers per backend endpoint; off unless enabled. Read at start. */
  circuitBreaker?: CircuitBreakerConfig;
  /** Time for the breakers (tests move it by hand). @default the monotonic clock */
  clock?: Clock;
}

export interface App {
  /** The node:http request listener. */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
  readonly manager: SupergraphManager;
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
  // One keep-alive pool per backend origin, shared by data sources and adapters across reloads.
  const dispatcher = new Agent({ connections: 128, pipelining: 1 });
  const grpcChannels = new GrpcChannels();
  const manager = new SupergraphManager(source, logger.child({ component: 'supergraph' }), {
    watch: server.hot_reload,
    deps: { dispatcher, grpcChannels },
  });
  const observability = options.observability ?? {};
  const metricsConfig = observability.metrics ?? MetricsConfig.parse({});
  const telemetry = new Telemetry({
    // The request line is built field by field from values the gateway controls (ids, names,
    // numbers), so it skips the wildcard redaction that guards arbitrary logged objects: that
    // scan cost 40 µs a line, more than the rest of the observability of a request together.
    logger: logger.child({ component: 'access' }, { redact: [] }),
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
  manager.on('reload', (outcome: { ok: boolean }) => telemetry.recordReload(outcome.ok));
  const breakers = options.circuitBreaker?.enabled
    ? createBreakers(options.circuitBreaker, options.clock ?? systemClock, telemetry, logger)
    : undefined;
  // Metrics on the gateway's own port unless they have one of their own (main.ts opens it).
  const metricsPath =
    telemetry.metrics && metricsConfig.port === undefined ? metricsConfig.path : undefined;
  const { apollo } = buildGraphQL({ manager, server, logger, dispatcher, telemetry, stages });
  const serveGraphQL = createGraphQLRoute({ apollo, bodyLimit: server.body_limit });
  const landingPage = server.landing_page ?? server.introspection ?? server.mode === 'development';
  const landingHtml = landingPage ? renderLandingPage(server.graphql_path) : undefined;

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

    if (path === '/healthz') return serveHealthz(res);
    if (path === '/readyz') return serveReadyz(res, manager, state, backendHealth);
    if (path === metricsPath && telemetry.metrics) return serveMetrics(res, telemetry.metrics);

    const ctx = createRequestContext(
      method,
      path,
      req.headers,
      performance.now(),
      server.request_timeout,
      server.correlation_header,
    );
    const accept = req.headers.accept;
    const isGraphQL = path === server.graphql_path;
    ctx.facts.surface = isGraphQL ? 'graphql' : 'rest';
    if (breakers) ctx.guard = breakers;
    telemetry.beginRequest(ctx, `${method} ${isGraphQL ? path : 'rest'}`, {
      'http.request.method': method,
      'url.path': path,
    });
    res.once('close', () => {
      const status = res.headersSent ? res.statusCode : 499;
      const [firstCode] = ctx.facts.errorCodes;
      telemetry.endRequest(
        ctx,
        status,
        firstCode ?? (status >= 500 ? ErrorCode.UPSTREAM_ERROR : 'ok'),
      );
    });
    await respond(req, res, ctx, method, path, search, accept, isGraphQL);
  }

  async function respond(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    method: string,
    path: string,
    search: string,
    accept: string | undefined,
    isGraphQL: boolean,
  ): Promise<void> {
    try {
      await runStages(stages, 'request', ctx);
      applyResponseHeaders(res, ctx);
      // A draining gateway still serves: requests arriving now come from clients and balancers
      // that have not yet seen readiness turn.
      const snapshot = manager.current;
      if (state === 'starting' || !snapshot) {
        throw new GatewayError(
          ErrorCode.SUPERGRAPH_NOT_READY,
          'The gateway has not loaded a supergraph yet.',
        );
      }
      if (!isGraphQL) {
        await serveRest(req, res, ctx, snapshot, method, path, search);
        return;
      }
      if (method !== 'GET' && method !== 'POST') {
        res.setHeader('allow', 'GET, POST');
        throw new GatewayError(
          ErrorCode.METHOD_NOT_ALLOWED,
          `Method ${method} is not allowed; use GET or POST.`,
        );
      }
      if (landingHtml && method === 'GET' && !search && prefersHtml(accept)) {
        res.setHeader('content-type', 'text/html; charset=utf-8');
        res.end(landingHtml);
        return;
      }
      await serveGraphQL(req, res, ctx, search);
    } catch (caught) {
      const error =
        caught instanceof GatewayError
          ? caught
          : new GatewayError(ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error.', {
              cause: caught,
            });
      logger[logLevelOf(error.code)](
        {
          err: ensureError(error.originalError ?? caught),
          correlationId: ctx.correlationId,
          code: error.code,
        },
        'request failed',
      );
      ctx.facts.errorCodes.add(error.code);
      // The rest of an oversize body is never read: closing is cheaper than draining it.
      if (error.code === ErrorCode.PAYLOAD_TOO_LARGE) res.setHeader('connection', 'close');
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
   * templates), then plain REST routes by prefix. Errors answer as google.rpc.Status JSON.
   */
  async function serveRest(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    snapshot: SupergraphSnapshot,
    method: string,
    path: string,
    search: string,
  ): Promise<void> {
    const transcoded = snapshot.transcoder.match(method, path);
    if (transcoded?.kind === 'route') {
      return serveTranscoded(req, res, ctx, transcoded.route, transcoded.pathValues, search, {
        bodyLimit: server.body_limit,
        mask: server.mode === 'production',
      });
    }
    const routed = snapshot.routes.match(
      method,
      path,
      req.headers,
      Math.random,
      breakers && ((route, backend) => breakers.refuses(route.name, backend.host)),
    );
    if (routed?.kind === 'route') {
      return serveProxied(req, res, ctx, routed.route, routed.backend, routed.path, search, {
        dispatcher,
        bodyLimit: server.body_limit,
      });
    }
    const allowed = [...(transcoded?.allowed ?? []), ...(routed?.allowed ?? [])];
    if (allowed.length > 0) {
      res.setHeader('allow', allowed.join(', '));
      throw new GatewayError(
        ErrorCode.METHOD_NOT_ALLOWED,
        `Method ${method} is not allowed on ${path}; use ${allowed.join(' or ')}.`,
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
      if (state === 'draining') res.setHeader('connection', 'close');
      res.once('close', () => {
        inFlight.delete(res);
        if (inFlight.size === 0 && idleWaiters.length > 0) {
          for (const resolve of idleWaiters) resolve();
          idleWaiters = [];
        }
      });
      void route(req, res);
    },
    manager,
    telemetry,
    async start() {
      await manager.load();
      await apollo.start();
      state = 'ready';
    },
    grpcPort() {
      const snapshot = manager.current;
      if (!snapshot?.grpcFront) return undefined;
      grpcPort ??= createGrpcPort({
        front: snapshot.grpcFront,
        telemetry,
        correlationHeader: server.correlation_header,
        guard: breakers,
        current: () => manager.current?.grpcFront,
        reflection: snapshot.grpcServer.reflection,
        stages,
        dispatcher,
        requestTimeout: server.request_timeout,
        logger: logger.child({ component: 'grpc' }),
      });
      return grpcPort;
    },
    drain() {
      state = 'draining';
      grpcPort?.drain();
      // Requests already running answer with Connection: close, so clients reconnect elsewhere.
      for (const res of inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
    },
    idle() {
      if (inFlight.size === 0) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
    async stop() {
      manager.stop();
      // Client connections are closed by now: fetches still running have no one to answer.
      await dispatcher.destroy();
      grpcChannels.close();
      await apollo.stop();
      await telemetry.close();
    },
  };
}

/** Circuit breakers whose state changes are logged and counted. */
function createBreakers(
  config: CircuitBreakerConfig,
  clock: Clock,
  telemetry: Telemetry,
  logger: Logger,
): Breakers {
  return new Breakers(
    { failureThreshold: config.failure_threshold, openForMs: config.open_for },
    clock,
    (backend, endpoint, state) => {
      telemetry.recordBreaker(backend, endpoint, state);
      const fields = { backend, endpoint, state };
      if (state === 'open') logger.warn(fields, 'circuit opened: calls to the backend paused');
      else logger.info(fields, `circuit ${state === 'closed' ? 'closed' : 'half-open'}`);
    },
  );
}

/** Prometheus text format, scraped by Prometheus or any OpenMetrics-compatible agent. */
export async function serveMetrics(res: ServerResponse, metrics: GatewayMetrics): Promise<void> {
  const { body, contentType } = await metrics.scrape();
  res.setHeader('content-type', contentType);
  res.end(body);
}

function applyResponseHeaders(res: ServerResponse, ctx: RequestContext): void {
  for (const [name, value] of ctx.responseHeaders) res.setHeader(name, value);
}

/** Browsers ask for text/html first; GraphQL clients never do. */
function prefersHtml(accept: string | undefined): boolean {
  return accept !== undefined && accept.startsWith('text/html');
}
