import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo, Server as NetServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { LoadedConfig, ResolvedListenerTls } from '../config/load.ts';
import { HttpLimitsConfig } from '../config/schema.ts';
import { buildApp, type App, type AppOptions } from './app.ts';
import { createClientErrorHandler, parserLimits } from './client-error.ts';
import { createEdge, watchFiles, type EdgeHandler } from './edge.ts';
import { createGrpcCredentials } from './grpc-credentials.ts';
import { ExitCode } from './exit-codes.ts';
import { applyHeapGrowth } from './heap-growth.ts';

export interface RunningGateway {
  readonly app: App;
  /** What listens on the gateway's port (node:http, or node:http2's server with TLS). */
  readonly server: NetServer;
  /** http(s)://host:port of the listening server. */
  readonly origin: string;
  /**
   * http://host:port of the admin listener (`server.admin`: `/healthz`, `/readyz` with its
   * details, the metrics), when there is one.
   */
  readonly adminOrigin?: string;
  /** host:port of the gRPC port, when the config serves REST backends over gRPC. */
  readonly grpcAddress?: string;
  /** Drains and stops; resolves true when every in-flight request finished in time. */
  shutdown(): Promise<boolean>;
}

export interface GatewayOptions extends AppOptions {
  /** `server.tls` and `grpc_server.tls`, their files found (LoadedConfig). Read at start. */
  listenerTls?: LoadedConfig['listenerTls'];
  /**
   * A worker of `start --workers N` (cluster/worker.ts): its admin listener is its own
   * (`exclusive`, outside node:cluster's port sharing) for the primary to ask, and its
   * "listening" line is the worker's, not the gateway's: the primary logs that one.
   */
  clusterWorker?: boolean;
}

/**
 * Builds the app and listens. Shutdown follows the usual load-balancer dance: readiness turns
 * 503 and responses carry `Connection: close` (HTTP/2 sessions get GOAWAY); after `shutdown_delay` the listener stops
 * accepting; in-flight requests get up to `shutdown_timeout` to finish; then remaining
 * connections are cut and everything stops.
 */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const { server: settings, logger } = options;
  applyHeapGrowth(settings.heap_growth_percent);
  const tls = options.listenerTls ?? {};
  const app = buildApp(options);
  await app.start();
  const limits = () => app.manager.current?.limits.http ?? HttpLimitsConfig.parse({});
  // Slow clients: headers within `headers_timeout`, the whole request within `request_timeout`
  // (its budget: an answer cannot come sooner), else 408 and the connection closed; an idle
  // kept-alive connection closes after `keep_alive_timeout`. Node checks the first two on a
  // timer, every `connectionsCheckingInterval` (30 s by default, far coarser than a headers
  // timeout); a check walks only the connections with a request in progress.
  const requestTimeout = settings.request_timeout;
  const headersTimeout =
    requestTimeout > 0
      ? Math.min(settings.headers_timeout, requestTimeout)
      : settings.headers_timeout;
  const edge = createEdge({
    ...(tls.server ? { tls: tls.server } : {}),
    h2c: settings.h2c,
    http1: {
      keepAliveTimeout: settings.keep_alive_timeout,
      headersTimeout,
      requestTimeout,
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, headersTimeout / 4)),
      ...parserLimits(limits()),
    },
    handler: app.handle as EdgeHandler,
  });
  const server = edge.http1;
  // What Node's parser refuses before a request exists gets the gateway's answer, not Node's
  // bare status line; its limits follow `limits.http` through reloads (read per connection).
  server.on(
    'clientError',
    createClientErrorHandler({
      graphqlPath: settings.graphql_path,
      correlationHeader: settings.correlation_header,
      logger,
      limits,
    }),
  );
  app.manager.on('reload', () => Object.assign(server, parserLimits(limits())));
  const listener = edge.listener;
  listener.listen(settings.port, settings.host);
  try {
    await once(listener, 'listening');
  } catch (error) {
    await app.stop();
    // Worded as the admin listener's: what could not be opened, and the setting that moves it.
    throw new Error(
      `cannot listen on server.port ${settings.port} (host ${settings.host}): ${(error as Error).message}; set server.port (or PORT, --port) to a free port (0 picks one)`,
      { cause: error },
    );
  }
  const { port } = listener.address() as AddressInfo;
  const origin = `${edge.scheme}://${inUrl(settings.host)}:${port}`;
  let admin: { server: Server; origin: string } | undefined;
  if (app.admin) {
    try {
      admin = await listenAdmin(app.admin, logger, options.clusterWorker === true);
    } catch (error) {
      listener.close();
      await app.stop();
      throw error;
    }
  }
  const unwatchTls: (() => void)[] = [];
  if (tls.server && settings.hot_reload) {
    unwatchTls.push(
      watchCertificates(tls.server, logger, 'server.tls', () => edge.reloadCertificates()),
    );
  }
  let grpcAddress: string | undefined;
  const grpcPort = app.grpcPort();
  let grpcTls: ReturnType<typeof createGrpcCredentials> | undefined;
  if (grpcPort) {
    const { host: grpcHost, port: grpcWanted } = app.manager.current!.grpcServer;
    try {
      grpcTls = tls.grpc && createGrpcCredentials(tls.grpc);
      const credentials = grpcTls?.credentials ?? grpc.ServerCredentials.createInsecure();
      const bound = await new Promise<number>((resolve, reject) =>
        grpcPort.server.bindAsync(`${grpcHost}:${grpcWanted}`, credentials, (error, port) =>
          error ? reject(error) : resolve(port),
        ),
      );
      grpcAddress = `${inUrl(grpcHost)}:${bound}`;
    } catch (error) {
      listener.close();
      await closeAdmin(admin?.server);
      for (const unwatch of unwatchTls) unwatch();
      await app.stop();
      throw new Error(
        `cannot listen for gRPC on ${grpcHost}:${grpcWanted}: ${(error as Error).message}; set grpc_server.port to a free port (0 picks one)`,
        { cause: error },
      );
    }
    logger.info({ address: grpcAddress, tls: tls.grpc !== undefined }, 'gRPC port listening');
    const reloadGrpc = grpcTls?.reload;
    if (tls.grpc && reloadGrpc && settings.hot_reload)
      unwatchTls.push(watchCertificates(tls.grpc, logger, 'grpc_server.tls', reloadGrpc));
  }
  // Last: "listening" means every port is open.
  if (!options.clusterWorker)
    logger.info(
      { url: `${origin}${settings.graphql_path}`, ...(admin ? { admin: admin.origin } : {}) },
      'gateway listening',
    );

  let stopping: Promise<boolean> | undefined;
  return {
    app,
    server: listener,
    origin,
    ...(admin ? { adminOrigin: admin.origin } : {}),
    ...(grpcAddress ? { grpcAddress } : {}),
    shutdown() {
      stopping ??= (async () => {
        app.drain();
        for (const unwatch of unwatchTls) unwatch();
        // HTTP/2's Connection: close: open streams finish, the client reconnects for more.
        edge.goAway();
        if (settings.shutdown_delay > 0) {
          await new Promise((resolve) => setTimeout(resolve, settings.shutdown_delay));
        }
        const closed = edge.close();
        edge.closeIdle();
        let timer: NodeJS.Timeout | undefined;
        const drained = await Promise.race([
          app.idle().then(() => true),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(false), settings.shutdown_timeout);
          }),
        ]);
        clearTimeout(timer);
        if (!drained) logger.warn('shutdown timeout reached; closing the remaining connections');
        edge.closeAll();
        await closed;
        const grpcDrained = grpcPort
          ? await closeGrpc(grpcPort.server, settings.shutdown_timeout)
          : true;
        // Last of the listeners: until now its /readyz said draining to whoever asked.
        await closeAdmin(admin?.server);
        await app.stop();
        return drained && grpcDrained;
      })();
      return stopping;
    },
  };
}

/**
 * Opens the admin listener: plain HTTP, meant for loopback or a private network, since its
 * readiness details name backends and files and its metrics describe the traffic. Another
 * address is allowed (a scraper in another container) but logged as a warning.
 */
async function listenAdmin(
  admin: NonNullable<App['admin']>,
  logger: Logger,
  exclusive: boolean,
): Promise<{ server: Server; origin: string }> {
  const server = createServer(admin.handle);
  server.listen({ port: admin.port, host: admin.host, exclusive });
  try {
    await once(server, 'listening');
  } catch (error) {
    throw new Error(
      `cannot listen on server.admin.port ${admin.port} (host ${admin.host}): ${(error as Error).message}; set server.admin.port to a free port (0 picks one)`,
      { cause: error },
    );
  }
  const { port } = server.address() as AddressInfo;
  const origin = `http://${inUrl(admin.host)}:${port}`;
  if (!isLoopback(admin.host))
    logger.warn(
      { host: admin.host },
      'the admin listener is not on loopback: whoever reaches it reads readiness details (backends, reload errors with file snippets) and the metrics',
    );
  if (!exclusive) logger.info({ url: origin }, 'admin listening');
  return { server, origin };
}

/** Stops the admin listener; scrapers' kept-alive connections are cut, not waited for. */
async function closeAdmin(server: Server | undefined): Promise<void> {
  if (!server) return;
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeAllConnections();
  await closed;
}

/** A host as a URL names it: IPv6 addresses in brackets. */
function inUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Loopback by name or address (127.0.0.0/8, ::1, IPv4-mapped 127.x). */
function isLoopback(host: string): boolean {
  const address = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return (
    address === 'localhost' || address === '::1' || /^(::ffff:)?127(\.\d{1,3}){3}$/.test(address)
  );
}

/**
 * SIGTERM/SIGINT drain and exit 0, or 3 when `shutdown_timeout` cut requests still in flight;
 * a second signal exits 1 at once (exit-codes.ts). A cluster worker listens to SIGTERM alone
 * (cluster/worker.ts).
 */
export function exitOnSignals(
  running: RunningGateway,
  logger: Logger,
  signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'],
): void {
  let received = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received) {
      logger.warn({ signal }, 'second signal: exiting without draining');
      logger.flush(() => process.exit(ExitCode.FAILED));
      return;
    }
    received = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    // Log lines are written asynchronously: flush them before the process ends.
    const exit = (code: number) => logger.flush(() => process.exit(code));
    running.shutdown().then(
      (drained) => {
        logger.info({ drained }, 'stopped');
        exit(drained ? ExitCode.OK : ExitCode.REQUESTS_CUT);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        exit(ExitCode.FAILED);
      },
    );
  };
  for (const signal of signals) process.on(signal, onSignal);
}

/** Lets gRPC calls in flight finish within the bound, then cuts the rest; true if none was cut. */
async function closeGrpc(server: grpc.Server, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const finished = await Promise.race([
    new Promise<boolean>((resolve) => server.tryShutdown(() => resolve(true))),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        server.forceShutdown();
        resolve(false);
      }, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  return finished;
}

/**
 * Reloads a listener's certificate when its files change; a pair that does not load (the key
 * written before its certificate, a bad file) is logged and the one served stays.
 */
function watchCertificates(
  tls: ResolvedListenerTls,
  logger: Logger,
  key: string,
  reload: () => void,
): () => void {
  return watchFiles([tls.cert, tls.key, ...(tls.ca ? [tls.ca] : [])], () => {
    try {
      reload();
      logger.info({ key }, 'TLS certificate reloaded');
    } catch (error) {
      logger.warn({ err: error, key }, 'TLS certificate not reloaded; serving the previous one');
    }
  });
}
