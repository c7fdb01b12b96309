import type { IncomingHttpHeaders } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { Logger } from 'pino';
import type protobuf from 'protobufjs';
import { HEALTH_PROTO, healthTypes } from '../adapters/grpc/health.ts';
import { messageCodec } from '../adapters/grpc/codec.ts';
import { BUILTIN_PROTOS } from '../adapters/grpc/proto-schema.ts';
import type { RequestContext } from '../kernel/context.ts';
import {
  CODE_OF_GRPC_STATUS,
  ensureError,
  ErrorCode,
  GatewayError,
  GRPC_CODE,
  logLevelOf,
} from '../kernel/errors.ts';
import type { Dispatcher } from 'undici';
import {
  FrontError,
  replyOf,
  restRequestOf,
  type FrontMethod,
  type GrpcFront,
} from '../translate/grpc-to-rest.ts';
import type { Inbound } from './inbound.ts';
import { addressOfGrpcPeer } from './client-address.ts';
import { asRequestTimeout, withinBudget } from './request-budget.ts';

type Obj = Record<string, unknown>;

export interface GrpcPortOptions {
  /**
   * The services as loaded at start (their methods are fixed when the port opens); each call
   * looks its method up in the request's snapshot first, so a reload's new base URL or timeout
   * applies to the next call.
   */
  front: GrpcFront;
  reflection: boolean;
  /** The way in every surface shares: context, snapshot, stages. */
  inbound: Inbound;
  logger: Logger;
}

export interface GrpcPort {
  readonly server: grpc.Server;
  /** grpc.health.v1 answers NOT_SERVING from now on (shutdown has begun). */
  drain(): void;
}

/**
 * The gateway's gRPC port: REST backends as gRPC services (translate/grpc-to-rest.ts), plus
 * grpc.health.v1 and server reflection. Every call runs the same inbound stages as HTTP traffic,
 * with its metadata as the headers; a refusing stage answers with its code's gRPC status.
 */
export function createGrpcPort(options: GrpcPortOptions): GrpcPort {
  const { front } = options;
  const server = new grpc.Server();
  for (const service of front.services) {
    const definition: Record<string, grpc.MethodDefinition<Obj, Obj>> = {};
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const method of service.methods) {
      definition[method.name] = methodDefinition(
        method.path,
        method.requestType,
        method.responseType,
        false,
      );
      handlers[method.name] = (
        call: grpc.ServerUnaryCall<Obj, Obj>,
        callback: grpc.sendUnaryData<Obj>,
      ) => {
        void serve(options, method, call, callback);
      };
    }
    server.addService(definition, handlers);
  }

  let serving = true;
  const known = new Set(['', ...front.services.map((s) => s.name)]);
  const watchers = new Set<grpc.ServerWritableStream<Obj, Obj>>();
  const { request: checkRequest, response: checkResponse } = healthTypes();
  const healthMethod = (name: string, responseStream: boolean) =>
    methodDefinition(`/grpc.health.v1.Health/${name}`, checkRequest, checkResponse, responseStream);
  const status = (service: string) =>
    known.has(service) ? (serving ? 'SERVING' : 'NOT_SERVING') : 'SERVICE_UNKNOWN';
  // https://github.com/grpc/grpc/blob/master/doc/health-checking.md
  server.addService(
    { Check: healthMethod('Check', false), Watch: healthMethod('Watch', true) },
    {
      Check(call: grpc.ServerUnaryCall<Obj, Obj>, callback: grpc.sendUnaryData<Obj>) {
        const service = String(call.request.service ?? '');
        if (!known.has(service))
          callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${service}` });
        else callback(null, { status: status(service) });
      },
      Watch(call: grpc.ServerWritableStream<Obj, Obj>) {
        const service = String(call.request.service ?? '');
        call.write({ status: status(service) });
        watchers.add(call);
        call.on('cancelled', () => watchers.delete(call));
      },
    },
  );

  if (options.reflection) {
    const definition = protoLoader.loadSync([...front.files, HEALTH_PROTO], {
      includeDirs: [...front.includeDirs, BUILTIN_PROTOS],
    });
    new ReflectionService(definition).addToServer(server);
  }

  return {
    server,
    drain() {
      serving = false;
      for (const watcher of watchers) {
        watcher.write({ status: status(String(watcher.request.service ?? '')) });
        watcher.end();
      }
      watchers.clear();
    },
  };
}

/** A unary or server-streaming method of the port, (de)serialised through protobufjs. */
function methodDefinition(
  path: string,
  requestType: protobuf.Type,
  responseType: protobuf.Type,
  responseStream: boolean,
): grpc.MethodDefinition<Obj, Obj> {
  const request = messageCodec(requestType);
  const response = messageCodec(responseType);
  return {
    path,
    requestStream: false,
    responseStream,
    requestSerialize: request.encode,
    requestDeserialize: request.decode,
    responseSerialize: response.encode,
    responseDeserialize: response.decode,
  };
}

/** Metadata as lower-case headers, text values only, so stages read gRPC and HTTP alike. */
function headersOf(metadata: grpc.Metadata): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(metadata.getMap()))
    if (typeof value === 'string') headers[name] = value;
  return headers;
}

async function serve(
  options: GrpcPortOptions,
  loaded: FrontMethod,
  call: grpc.ServerUnaryCall<Obj, Obj>,
  callback: grpc.sendUnaryData<Obj>,
): Promise<void> {
  const headers = headersOf(call.metadata);
  const rpc = loaded.path.slice(1);
  const [service = '', methodName = ''] = rpc.split('/');
  const ctx = options.inbound.open({
    surface: 'grpc',
    method: 'POST',
    path: loaded.path,
    headers,
    // The gRPC port reads no forwarding metadata: the peer is the caller.
    clientAddress: addressOfGrpcPeer(call.getPeer()),
    name: rpc,
    attributes: { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': methodName },
  });
  if (!ctx) {
    callback({ code: grpc.status.UNAVAILABLE, details: 'The gateway is not ready.' });
    return;
  }
  ctx.facts.operationName = rpc;
  ctx.facts.route = rpc;
  const method = ctx.snapshot.grpcFront?.methods.get(loaded.path) ?? loaded;
  const auth = ctx.snapshot.grpcServer.services[method.entry]?.auth;
  if (auth !== undefined) ctx.authMode = auth;
  const answer = (md: grpc.Metadata) => {
    for (const [name, value] of ctx.responseHeaders) md.set(name, value);
    return md;
  };
  try {
    await withinBudget(ctx, options.inbound.admit(ctx));
    const reply = await withinBudget(ctx, callBackend(ctx, method, call));
    call.sendMetadata(answer(new grpc.Metadata()));
    callback(null, reply);
    options.inbound.close(ctx, grpc.status.OK, 'ok');
  } catch (thrown) {
    // The REST call's timeout at the end of the budget is the request's (DEADLINE_EXCEEDED).
    const caught = thrown instanceof GatewayError ? asRequestTimeout(ctx, thrown) : thrown;
    let code: grpc.status;
    let details: string;
    if (caught instanceof FrontError) {
      code = caught.code;
      details = caught.message;
    } else if (caught instanceof GatewayError) {
      code = GRPC_CODE[caught.code];
      details = caught.message;
    } else {
      code = grpc.status.INTERNAL;
      details = 'Internal server error.';
    }
    const outcome =
      caught instanceof GatewayError
        ? caught.code
        : (CODE_OF_GRPC_STATUS[code] ?? ErrorCode.UPSTREAM_ERROR);
    options.logger[logLevelOf(outcome)](
      {
        err: ensureError(
          caught instanceof GatewayError ? (caught.originalError ?? caught) : caught,
        ),
        correlationId: ctx.correlationId,
        rpc: method.path,
        code: outcome,
      },
      'gRPC call failed',
    );
    callback({ code, details, metadata: answer(new grpc.Metadata()) });
    ctx.facts.errorCodes.add(outcome);
    options.inbound.close(ctx, code, outcome);
  }
}

/**
 * The REST call a method stands for, through the snapshot's outbound chain, bounded also by
 * the gRPC caller's own deadline.
 */
async function callBackend(
  ctx: RequestContext,
  method: FrontMethod,
  call: grpc.ServerUnaryCall<Obj, Obj>,
): Promise<Obj> {
  if (!method.binding)
    throw new FrontError(grpc.status.UNIMPLEMENTED, `${method.name} has no HTTP binding.`);
  const { backend, binding } = method;
  const request = restRequestOf(method, binding, call.request);
  const deadline = call.getDeadline();
  const callerLeft =
    deadline instanceof Date ? deadline.getTime() - Date.now() : Number(deadline) - Date.now();
  const own: Record<string, string> = { accept: 'application/json' };
  if (request.body !== undefined) own['content-type'] = 'application/json';
  return ctx.snapshot.outbound.http(
    {
      target: {
        backend: method.entry,
        kind: 'rest',
        operation: `${binding.httpMethod} ${binding.template.source}`,
        protocol: 'http',
        address: backend.host,
        method: binding.httpMethod,
      },
      ctx,
      timeoutMs: Math.max(
        0,
        Math.min(backend.timeout, Number.isFinite(callerLeft) ? callerLeft : Infinity),
      ),
      headers: backend.headerRules,
      ownHeaders: own,
      idempotent: request.method === 'GET' || request.method === 'HEAD',
      origin: backend.origin,
      path: request.path,
      method: request.method as Dispatcher.HttpMethod,
      ...(request.body === undefined ? {} : { body: request.body }),
    },
    async (response) => replyOf(method, response.status, await response.body.text()),
  );
}
