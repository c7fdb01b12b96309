import * as grpc from '@grpc/grpc-js';
import { messageCodec } from '../adapters/grpc/codec.ts';
import type { TranscodeRoute } from './transcoder.ts';

type Obj = Record<string, unknown>;

export interface CallOptions {
  metadata: grpc.Metadata;
  /** Milliseconds the call may take. */
  timeoutMs: number;
}

export interface UnaryResult {
  message: Obj;
  /** Response headers and trailers, in that order. */
  metadata: grpc.Metadata[];
}

function codec(route: TranscodeRoute, request: Obj) {
  return {
    message: route.requestType.fromObject(request),
    serialize: messageCodec(route.requestType).encode,
    deserialize: messageCodec(route.responseType).decode,
  };
}

/**
 * One unary call. It settles after the status arrives, so the trailers are there to copy into
 * HTTP headers; a failure rejects with grpc-js's ServiceError (code, details, metadata).
 */
export function callUnary(
  route: TranscodeRoute,
  request: Obj,
  options: CallOptions,
): Promise<UnaryResult> {
  const { message, serialize, deserialize } = codec(route, request);
  return new Promise((resolve, reject) => {
    let reply: Obj | undefined;
    let headers = new grpc.Metadata();
    const call = route
      .client()
      .makeUnaryRequest(
        `/${route.rpc}`,
        serialize,
        deserialize,
        message,
        options.metadata,
        { deadline: Date.now() + options.timeoutMs },
        (error, response) => {
          if (error) reject(error);
          else reply = response;
        },
      );
    call.on('metadata', (md: grpc.Metadata) => (headers = md));
    call.on('status', (status: grpc.StatusObject) => {
      if (status.code === grpc.status.OK && reply)
        resolve({ message: reply, metadata: [headers, status.metadata] });
    });
  });
}

export interface StreamHandlers {
  /** Response headers, before the first message. */
  onHeaders(metadata: grpc.Metadata): void;
  onMessage(message: Obj): void;
}

/** A server-streaming call; resolves at the end of the stream, rejects with its ServiceError. */
export function callServerStream(
  route: TranscodeRoute,
  request: Obj,
  options: CallOptions,
  handlers: StreamHandlers,
  signal: AbortSignal,
): Promise<void> {
  const { message, serialize, deserialize } = codec(route, request);
  return new Promise((resolve, reject) => {
    const stream = route
      .client()
      .makeServerStreamRequest(`/${route.rpc}`, serialize, deserialize, message, options.metadata, {
        deadline: Date.now() + options.timeoutMs,
      });
    // The HTTP client went away: stop the backend's work too.
    signal.addEventListener('abort', () => stream.cancel(), { once: true });
    stream.on('metadata', (md: grpc.Metadata) => handlers.onHeaders(md));
    stream.on('data', (reply: Obj) => handlers.onMessage(reply));
    stream.on('error', reject);
    stream.on('end', () => resolve());
  });
}
