import type * as grpc from '@grpc/grpc-js';
import type { Exchange } from '../../kernel/channels.ts';
import type { Instance, Upstream } from './upstreams.ts';
import type {
  BackendTarget,
  ChannelTls,
  GrpcCall,
  GrpcStreamHandlers,
  GrpcUnaryAnswer,
  HttpAnswer,
  HttpCall,
} from '../../kernel/outbound.ts';

/** The shapes the interceptors of the outbound chain (chain.ts) pass along and return. */

/** One attempt's exchange as the chain passes it along: the subscribers' view plus the call. */
export interface ChainExchange extends Exchange {
  /** Who is called; `balance` names the instance picked in its address. */
  target: BackendTarget;
  /** The call's own headers (below the rules' `set`, above forwarded ones). */
  readonly own: Readonly<Record<string, string>> | undefined;
  readonly call: HttpCall | GrpcCall;
  /** Where this attempt goes: the call's origin (HTTP) or address (gRPC), or the instance picked. */
  origin: string | undefined;
  address: string | undefined;
  /** A gRPC attempt's TLS (the instance's: the logical host stays the name verified). */
  tls: ChannelTls | undefined;
  /** The backend's upstream and the instance this attempt goes to (`balance`). */
  upstream: Upstream | undefined;
  instance: Instance | undefined;
  /**
   * Set by `retry` while another attempt is possible: whether an HTTP answer with this status
   * is to be dropped and retried (it holds a slot of the retry budget when it says yes). The
   * transport asks before handing the answer on, because a proxied answer cannot be taken back.
   */
  retryStatus: ((status: number) => boolean) | undefined;
}

export type Handler = (exchange: ChainExchange) => Promise<unknown>;
export type Interceptor = (next: Handler) => Handler;

export interface NamedInterceptor {
  readonly name: string;
  readonly wrap: Interceptor;
}

/** The pool of gRPC channels the transport calls through, one per address and TLS setting. */
export interface GrpcChannelPool {
  get(address: string, tls?: ChannelTls): grpc.Client;
}

export interface HttpExchange extends ChainExchange {
  readonly call: HttpCall;
  readonly read: (answer: HttpAnswer) => Promise<unknown>;
}

export interface GrpcUnaryExchange extends ChainExchange {
  readonly call: GrpcCall;
  readonly read: (answer: GrpcUnaryAnswer) => unknown;
}

export interface GrpcStreamExchange extends ChainExchange {
  readonly call: GrpcCall;
  readonly handlers: GrpcStreamHandlers;
  readonly signal: AbortSignal | undefined;
}
