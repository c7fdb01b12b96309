import type * as grpc from '@grpc/grpc-js';
import type { Exchange } from '../../kernel/channels.ts';
import type {
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
  /** The call's own headers (below the rules' `set`, above forwarded ones). */
  readonly own: Readonly<Record<string, string>> | undefined;
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
