import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { Logger } from 'pino';
import type protobuf from 'protobufjs';
import type { Dispatcher } from 'undici';
import { HEALTH_PROTO, healthTypes } from '../adapters/grpc/health.ts';
import { messageCodec } from '../adapters/grpc/codec.ts';
import { BUILTIN_PROTOS } from '../adapters/grpc/proto-schema.ts';
import { runStages, type StageEntry } from '../gateway/pipeline.ts';
import { callBudget, createRequestContext, type RequestContext } from '../kernel/context.ts';
import type { CallGuard } from '../kernel/observe.ts';
import { ensureError, ErrorCode, GatewayError, GRPC_CODE, logLevelOf } from '../kernel/errors.ts';
import type { Telemetry } from '../observability/telemetry.ts';
import { GRPC_STATUS_CODES } from '../adapters/grpc/status-map.ts';
import { observed } from '../kernel/observe.ts';
import { callUpstream } from '../kernel/upstream-http.ts';
import {
  FrontError,
  replyOf,
  restRequestOf,
  type FrontMethod,
  type GrpcFront,
} from '../translate/grpc-to-rest.ts';

type Obj = Record<string, unknown>;

export interface GrpcPortOptions {
  /** The services as loaded at start; each call looks its method up in `current()` first. */
  front: GrpcFront;
  /** The latest loaded front, so a reload's new base URL or timeout applies to the next call. */
  current: () => GrpcFront | undefined;
  reflection: boolean;
  stages: readonly StageEntry[];
  dispatcher: Dispatcher;
  requestTimeout: number;
  logger: Logger;
  telemetry: Telemetry;
  correlationHeader: string;
  /** Circuit breakers for the REST backends, when configured. */
  guard?: CallGuard | undefined;
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
        void serve(options, options.current()?.methods.get(method.path) ?? method, call, callback);
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
  method: FrontMethod,
  call: grpc.ServerUnaryCall<Obj, Obj>,
  callback: grpc.sendUnaryData<Obj>,
): Promise<void> {
  const headers = headersOf(call.metadata);
  const ctx = createRequestContext(
    'POST',
    method.path,
    headers,
    performance.now(),
    options.requestTimeout,
    options.correlationHeader,
  );
  ctx.facts.surface = 'grpc';
  ctx.facts.operationName = method.path.slice(1);
  if (options.guard) ctx.guard = options.guard;
  const [service = '', rpc = ''] = method.path.slice(1).split('/');
  options.telemetry.beginRequest(ctx, method.path.slice(1), {
    'rpc.system': 'grpc',
    'rpc.service': service,
    'rpc.method': rpc,
  });
  const answer = (md: grpc.Metadata) => {
    for (const [name, value] of ctx.responseHeaders) md.set(name, value);
    return md;
  };
  await answerCall(options, method, call, callback, ctx, headers, answer);
}

/** The call itself, once the request is observed. */
async function answerCall(
  options: GrpcPortOptions,
  method: FrontMethod,
  call: grpc.ServerUnaryCall<Obj, Obj>,
  callback: grpc.sendUnaryData<Obj>,
  ctx: RequestContext,
  headers: IncomingHttpHeaders,
  answer: (md: grpc.Metadata) => grpc.Metadata,
): Promise<void> {
  try {
    await runStages(options.stages, 'request', ctx);
    if (!method.binding)
      throw new FrontError(grpc.status.UNIMPLEMENTED, `${method.name} has no HTTP binding.`);
    const { backend } = method;
    const request = restRequestOf(method, method.binding, call.request);
    const deadline = call.getDeadline();
    const callerLeft =
      deadline instanceof Date ? deadline.getTime() - Date.now() : Number(deadline) - Date.now();
    const sent: Record<string, string> = { accept: 'application/json', ...backend.headers };
    for (const name of backend.forwardMetadata) {
      const value = headers[name];
      if (typeof value === 'string') sent[name] = value;
    }
    Object.assign(sent, ctx.upstreamHeaders);
    if (request.body !== undefined) sent['content-type'] = 'application/json';
    const binding = method.binding;
    const backendCall = {
      backend: method.entry,
      kind: 'rest' as const,
      operation: `${binding.httpMethod} ${binding.template.source}`,
      protocol: 'http' as const,
      address: backend.host,
      method: binding.httpMethod,
    };
    const reply = await observed(ctx, backendCall, async (traceHeaders) => {
      const response = await callUpstream({
        subgraph: method.entry,
        dispatcher: options.dispatcher,
        origin: backend.origin,
        path: request.path,
        method: request.method as Dispatcher.HttpMethod,
        headers: { ...sent, ...traceHeaders },
        ...(request.body === undefined ? {} : { body: request.body }),
        timeoutMs: Math.max(
          0,
          Math.min(
            callBudget(ctx, backend.timeout),
            Number.isFinite(callerLeft) ? callerLeft : Infinity,
          ),
        ),
      });
      return replyOf(method, response.status, response.text);
    });
    call.sendMetadata(answer(new grpc.Metadata()));
    callback(null, reply);
    options.telemetry.endRequest(ctx, grpc.status.OK, 'ok');
  } catch (caught) {
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
        : (GRPC_STATUS_CODES[code] ?? ErrorCode.UPSTREAM_ERROR);
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
    options.telemetry.endRequest(ctx, code, outcome);
  }
}
