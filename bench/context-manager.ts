// Preloaded (`--import`) into a gateway by the bench's context-manager case: what recording
// Apollo Gateway's own OpenTelemetry spans would take. The standard AsyncLocalStorage context
// manager carries the active span through Apollo's async code (on Node 20 and 22 through
// async_hooks' promise hooks, from Node 24 through AsyncContextFrame), and a global tracer
// provider hands Apollo the gateway's own span recorder, every span sampled, then dropped.
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { TracingConfig } from '../src/config/schema.ts';
import { createTracing } from '../src/observability/trace.ts';

const tracing = createTracing({
  config: TracingConfig.parse({ enabled: true, exporter: 'none', service_name: 'apollo' }),
});
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider({ getTracer: () => tracing.tracer });
