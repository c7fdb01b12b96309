import type { RequestContext } from './context.ts';
import { ErrorCode, GatewayError } from './errors.ts';

/** What a backend is to the operator: which dashboards and alerts its calls feed. */
export type BackendKind = 'subgraph' | 'rest' | 'grpc' | 'route';

export interface BackendCall {
  /** Subgraph, transcode entry, gRPC port service or route name: bounded by the config. */
  readonly backend: string;
  readonly kind: BackendKind;
  /** What was called: the gRPC method, the HTTP method and path template, the subgraph fetch. */
  readonly operation: string;
  /** For spans: `http` or `grpc`, the server's host and port, and for HTTP the method. */
  readonly protocol: 'http' | 'grpc';
  readonly address?: string;
  readonly method?: string;
}

/** One call in flight: the headers to send with it (trace context) and how to end it. */
export interface CallRecord {
  readonly headers: Readonly<Record<string, string>>;
  /** `outcome` is `ok` or the error code the call ended with; `status` the HTTP or gRPC status. */
  end(outcome: string, status?: number): void;
}

/**
 * Watches backend calls for logs, metrics and traces. The app puts one on every request
 * context (observability/telemetry.ts implements it); callers in adapters and data sources see
 * only this interface, so they depend on nothing in observability/.
 */
export interface CallObserver {
  start(ctx: RequestContext, call: BackendCall): CallRecord;
}

/**
 * Decides whether a call may be made and learns from how it ended (policies/traffic/breaker.ts
 * implements it). Like the observer, it sits on the request context.
 */
export interface CallGuard {
  /** Throws a GatewayError when the call must not be made. */
  admit(call: BackendCall): void;
  settle(call: BackendCall, outcome: string): void;
}

const UNOBSERVED: CallRecord = { headers: {}, end() {} };

/**
 * Starts a backend call: the request's guard admits it (or throws, and the refusal is recorded
 * as the call's outcome), its observer watches it. Health checks and loads have neither.
 */
export function observeCall(ctx: RequestContext | undefined, call: BackendCall): CallRecord {
  const record = ctx?.observer ? ctx.observer.start(ctx, call) : UNOBSERVED;
  const guard = ctx?.guard;
  if (!guard) return record;
  try {
    guard.admit(call);
  } catch (error) {
    record.end(outcomeOf(error));
    throw error;
  }
  return new GuardedCall(record, guard, call);
}

class GuardedCall implements CallRecord {
  readonly headers: Readonly<Record<string, string>>;
  readonly #record: CallRecord;
  readonly #guard: CallGuard;
  readonly #call: BackendCall;

  constructor(record: CallRecord, guard: CallGuard, call: BackendCall) {
    this.headers = record.headers;
    this.#record = record;
    this.#guard = guard;
    this.#call = call;
  }

  end(outcome: string, status?: number): void {
    this.#guard.settle(this.#call, outcome);
    this.#record.end(outcome, status);
  }
}

/** The outcome label of a failed call: its code when the gateway typed it. */
export function outcomeOf(error: unknown): string {
  if (error instanceof GatewayError) return error.code;
  // Errors of other families name their outcome themselves (translate/grpc-to-rest FrontError).
  const outcome = (error as { outcome?: unknown } | undefined)?.outcome;
  return typeof outcome === 'string' ? outcome : ErrorCode.UPSTREAM_ERROR;
}

/** Runs `fn` as one observed call: the record's headers go with it, the outcome is recorded. */
export async function observed<T>(
  ctx: RequestContext | undefined,
  call: BackendCall,
  fn: (headers: Readonly<Record<string, string>>) => Promise<T>,
): Promise<T> {
  const record = observeCall(ctx, call);
  try {
    const result = await fn(record.headers);
    record.end('ok');
    return result;
  } catch (error) {
    record.end(outcomeOf(error));
    throw error;
  }
}
