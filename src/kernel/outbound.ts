import type { IncomingHttpHeaders } from 'node:http';
import type * as grpc from '@grpc/grpc-js';
import type { Dispatcher } from 'undici';
import type { RequestContext } from './context.ts';

/**
 * The contract of the outbound chain: what a call site says about a backend call. Every backend
 * call of the gateway (subgraph fetch, REST adapter call, gRPC adapter call, route proxy,
 * transcoded call, the gRPC port's REST call) is one of these, handed to the `Outbound` of the
 * request's snapshot. Call sites say *what* to call; the chain (policies/traffic/chain.ts)
 * decides *how*: deadline, headers, breaker, transport, in the order written there.
 */

/** What a backend is to the operator: which dashboards and alerts its calls feed. */
export type BackendKind = 'subgraph' | 'rest' | 'grpc' | 'route';

/** Who is called: bounded names for logs, metrics, spans and circuit breakers. */
export interface BackendTarget {
  /** Subgraph, transcode entry, gRPC port service or route name: bounded by the config. */
  readonly backend: string;
  readonly kind: BackendKind;
  /** What was called: the gRPC method, the HTTP method and path template, the subgraph fetch. */
  readonly operation: string;
  readonly protocol: 'http' | 'grpc';
  /** `host:port`: with the backend name, the endpoint a circuit breaker watches. */
  readonly address: string;
  /** The HTTP method, for spans. */
  readonly method?: string;
}

/**
 * Which headers a backend gets besides the call's own, after Apollo Router's propagation rules
 * (https://www.apollographql.com/docs/graphos/routing/header-propagation): client headers are
 * passed on only by name, static ones are inserted, and the headers the gateway's stages set
 * (correlation, identity) come last so that nothing overrides them.
 */
export interface HeaderRules {
  /** Client request headers passed on by name (lower case). */
  readonly forward: readonly string[];
  /** Static headers from the config (`${ENV}` resolved at load). */
  readonly set: Readonly<Record<string, string>>;
}

/** Hop-by-hop headers (RFC 9110 section 7.6.1) stay with the connection they came on. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
]);

interface CallSpec {
  readonly target: BackendTarget;
  /** The request the call serves; undefined for health checks and loads. */
  readonly ctx: RequestContext | undefined;
  /** The backend's own bound; the deadline narrows it to what is left of the request's budget. */
  readonly timeoutMs: number;
  readonly headers?: HeaderRules;
  /** The call's own headers (accept, content type, a field's headers): below the rules' `set`. */
  readonly ownHeaders?: Readonly<Record<string, string>>;
  /**
   * The call only reads: a query's subgraph fetch, a REST GET or HEAD. A second identical call
   * would change nothing at the backend, so identical calls in flight together may share one
   * (dedup.ts). Never set it on a mutation's fetch or a write. @default false
   */
  readonly idempotent?: boolean;
}

export interface HttpCall extends CallSpec {
  readonly origin: string;
  /** Path and query. */
  readonly path: string;
  readonly method: Dispatcher.HttpMethod;
  readonly body?: string | Buffer;
}

/** A backend's HTTP answer, its body not yet read: `read` consumes it inside the chain. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Dispatcher.ResponseData['body'];
}

/** PEM contents for a TLS channel. */
export interface ChannelTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  serverName?: string;
}

export interface GrpcCall extends CallSpec {
  readonly address: string;
  readonly tls?: ChannelTls | undefined;
  /** `/package.Service/Method`. */
  readonly path: string;
  readonly serialize: (value: object) => Buffer;
  readonly deserialize: (bytes: Buffer) => Record<string, unknown>;
  readonly message: object;
}

export interface GrpcUnaryAnswer {
  readonly message: Record<string, unknown>;
  /** Response headers and trailers, in that order. */
  readonly metadata: readonly grpc.Metadata[];
}

export interface GrpcStreamHandlers {
  onHeaders?(metadata: grpc.Metadata): void;
  /** Returns false to stop the stream (a cap reached): the rest is cancelled, not a failure. */
  onMessage(message: Record<string, unknown>): boolean | void;
}

/**
 * The chain of one snapshot. A failed gRPC call rejects with grpc-js's `ServiceError` (code,
 * details, metadata), which each call site maps to its own surface; a failed HTTP exchange
 * rejects with a typed GatewayError, or with whatever `read` threw.
 */
export interface Outbound {
  http<T>(call: HttpCall, read: (answer: HttpAnswer) => Promise<T>): Promise<T>;
  grpcUnary<T>(call: GrpcCall, read: (answer: GrpcUnaryAnswer) => T): Promise<T>;
  grpcStream(call: GrpcCall, handlers: GrpcStreamHandlers, signal?: AbortSignal): Promise<void>;
}

/** grpc-js's error of a failed call. */
export function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'number';
}

/**
 * The names identity travels under to backends (`auth.identity.headers`), lower case: the
 * outbound chain removes any copy a client sent before it sets the verified values.
 */
export interface IdentityHeaderNames {
  readonly subject: string;
  readonly scopes: string;
  readonly clientId: string;
  /** Where the gateway's proof goes (an internal JWT or a signature). */
  readonly proof: string;
}

/** The names' defaults: `auth.identity` in the config starts from these. */
export const DEFAULT_IDENTITY_NAMES: IdentityHeaderNames = {
  subject: 'x-gateway-subject',
  scopes: 'x-gateway-scopes',
  clientId: 'x-gateway-client-id',
  proof: 'x-gateway-proof',
};

/**
 * Proves to a backend that a call comes from the gateway, for the identity it carries (or for
 * an anonymous caller: backends still refuse calls that did not come through the gateway).
 * Implemented in policies/auth (an internal JWT signed with the gateway's own rotated keys, or
 * an HMAC over the identity headers with a shared secret) and handed to the outbound chain by
 * runtime/, so traffic/ and auth/ never import each other.
 */
export interface IdentityProof {
  /** The proof header's value for one call carrying these identity header values. */
  proofFor(identity: RequestContext['identity'], sent: Readonly<Record<string, string>>): string;
}
