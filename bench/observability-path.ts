// Child process of the bench: the CPU time of a request's observability path, in process, for
// one mode (argv[2]: none, plumbing, logs, metrics, tracing, all). What a federated request of
// the bench does to observability, 100,000 times: correlation id, server span, execution and
// planning spans, five backend calls with their spans, metrics and the log line (to /dev/null).
// Prints one JSON line: { mode, us }.
import { pino } from 'pino';
import { MetricsConfig, TracingConfig } from '../src/config/schema.ts';
import { createRequestContext } from '../src/kernel/context.ts';
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
const telemetry = new Telemetry({
  logger: logger.child({ component: 'access' }, { redact: [] }),
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

function request(): void {
  const ctx = createRequestContext('POST', '/graphql', HEADERS, performance.now(), 30_000);
  if (mode === 'none') return;
  correlate(ctx);
  telemetry.beginRequest(ctx, 'POST /graphql', { 'http.request.method': 'POST' });
  ctx.facts.surface = 'graphql';
  ctx.facts.operationName = 'Shop';
  ctx.facts.documentHash = '6f0c3e7b'.repeat(8);
  ctx.facts.cost = 42;
  telemetry.beginExecution(ctx);
  telemetry.endPlanning(ctx, true);
  for (const backend of BACKENDS) {
    const call = telemetry.start(ctx, {
      backend,
      kind: 'subgraph',
      operation: 'Shop',
      protocol: 'http',
      address: '127.0.0.1:4001',
      method: 'POST',
    });
    call.end('ok', 200);
  }
  telemetry.endExecution(ctx, 'ok');
  telemetry.endRequest(ctx, 200, 'ok');
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
