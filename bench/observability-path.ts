// Child process of the bench: the CPU time of a request's observability path, in process, for
// one mode (argv[2]: none, plumbing, logs, metrics, tracing, all). What a federated request of
// the bench does to observability, 100,000 times: correlation id, server span, execution and
// planning spans, five backend calls with their spans, metrics and the log line (to /dev/null),
// published on the channels the request path publishes on, as the gateway does.
// Prints one JSON line: { mode, us }.
import { pino } from 'pino';
import { MetricsConfig, TracingConfig } from '../src/config/schema.ts';
import { channels, type Exchange } from '../src/kernel/channels.ts';
import { createRequestContext, createScope } from '../src/kernel/context.ts';
import type { RuntimeSnapshot } from '../src/runtime/snapshot.ts';
import { correlate } from '../src/observability/correlation.ts';
import { createLogger } from '../src/observability/log.ts';
import { Telemetry } from '../src/observability/telemetry.ts';
import { createTracing } from '../src/observability/trace.ts';

const mode = process.argv[2] ?? 'all';
const on = (part: string) => mode === 'all' || mode === part;
const logger = createLogger(
  { level: 'info' },
  pino.destination({ dest: '/dev/null', sync: false }),
);
const scope = createScope();
const telemetry = new Telemetry({
  scope,
  logger: logger.child({ component: 'access' }, { redact: [] }),
  events: logger,
  logRequests: on('logs'),
  metrics: MetricsConfig.parse({ enabled: on('metrics'), process: false }),
  ...(on('tracing')
    ? {
        tracing: createTracing({
          config: TracingConfig.parse({ enabled: true, exporter: 'none' }),
        }),
      }
    : {}),
});
const BACKENDS = ['products', 'reviews', 'inventory', 'accounts', 'products'];
const HEADERS = { 'content-type': 'application/json', 'apollographql-client-name': 'web' };

// The path reads one thing of the snapshot, whether clients are configured (telemetry then takes
// the client's name from identification, not a header): none here.
const snapshot = { clients: new Map() } as unknown as RuntimeSnapshot;

function request(): void {
  const ctx = createRequestContext({
    scope,
    snapshot,
    surface: 'graphql',
    clientAddress: '127.0.0.1',
    method: 'POST',
    path: '/graphql',
    headers: HEADERS,
    startedAt: performance.now(),
    timeoutMs: 30_000,
    correlationHeader: 'x-correlation-id',
  });
  if (mode === 'none') return;
  correlate(ctx);
  channels.requestStart.publish({
    ctx,
    name: 'POST /graphql',
    attributes: { 'http.request.method': 'POST' },
  });
  ctx.facts.operationName = 'Shop';
  ctx.facts.documentHash = '6f0c3e7b'.repeat(8);
  ctx.facts.cost = 42;
  channels.graphql.publish({ ctx, phase: 'execute' });
  channels.graphql.publish({ ctx, cache: 'query_plan', hit: true });
  channels.graphql.publish({ ctx, phase: 'plan', outcome: 'ok' });
  for (const backend of BACKENDS) {
    const exchange: Exchange = {
      target: {
        backend,
        kind: 'subgraph',
        operation: 'Shop',
        protocol: 'http',
        address: '127.0.0.1:4001',
        method: 'POST',
      },
      ctx,
      rules: undefined,
      headers: {},
      timeoutMs: 30_000,
      budgetCut: false,
      outcome: 'ok',
      backendFailed: false,
    };
    channels.call.start.publish(exchange);
    exchange.status = 200;
    channels.call.asyncEnd.publish(exchange);
  }
  channels.graphql.publish({ ctx, phase: 'execute', outcome: 'ok' });
  channels.requestEnd.publish({ ctx, status: 200, outcome: 'ok' });
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
// Warm-up, then batches of 1,000 with a turn of the event loop between them, as a server would
// (log writes and span batches complete there).
for (let i = 0; i < 20_000; i++) request();
await tick();
const N = 100_000;
const before = process.cpuUsage();
for (let batch = 0; batch < N / 1_000; batch++) {
  for (let i = 0; i < 1_000; i++) request();
  await tick();
}
const used = process.cpuUsage(before);
process.stdout.write(`${JSON.stringify({ mode, us: (used.user + used.system) / N })}\n`);
await telemetry.close();
process.exit(0);
