import * as grpc from '@grpc/grpc-js';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse, Source } from 'graphql';
import type protobuf from 'protobufjs';
import { ConfigError } from '../../config/errors.ts';
import type { GrpcSource } from '../../config/schema.ts';
import type { RequestContext } from '../../kernel/context.ts';
import type { AdapterSubgraph } from '../adapter.ts';
import type { GrpcChannels } from './channels.ts';
import {
  isEmptyMessage,
  loadProtos,
  ProtoLoadError,
  protosToSdl,
  type MethodMapping,
} from './proto-schema.ts';
import { GRPC_SCALARS } from './scalars.ts';
import { errorForGrpcStatus } from './status-map.ts';
import { graphQLToMessage, messageToGraphQL } from './values.ts';

export interface GrpcAdapterOptions {
  name: string;
  source: GrpcSource;
  /** Absolute proto files and include directories. */
  files: readonly string[];
  includeDirs: readonly string[];
  /** The config file, for locating errors in `source`. */
  configFile: string;
  channels: GrpcChannels;
}

/**
 * The gRPC adapter: a federation subgraph generated from protos whose fields call the service's
 * methods through a shared channel, with the per-subgraph deadline and the stage-set metadata
 * (correlation id, identity, trace) on every call.
 */
export function createGrpcAdapter(options: GrpcAdapterOptions): AdapterSubgraph {
  const { name, source } = options;
  let loaded;
  try {
    loaded = loadProtos(options.files, options.includeDirs);
  } catch (error) {
    if (!(error instanceof ProtoLoadError)) throw error;
    throw new ConfigError([
      { file: options.configFile, path: `subgraphs.${name}.source.protos`, message: error.message },
    ]);
  }
  const known = new Set(loaded.services.flatMap((s) => s.methodsArray.map((m) => m.name)));
  const unknown = Object.keys(source.methods).filter((m) => !known.has(m));
  if (unknown.length > 0) {
    throw new ConfigError(
      unknown.map((method) => ({
        file: options.configFile,
        path: `subgraphs.${name}.source.methods.${method}`,
        message: `no method ${method} in ${source.protos.join(', ')} (methods: ${[...known].join(', ')})`,
      })),
    );
  }
  const generated = protosToSdl(loaded, source.methods);
  const document = parse(new Source(generated.sdl, `${name} (generated from protos)`));
  const resolvers: Record<string, Record<string, unknown>> = {};
  for (const mapping of generated.methods) {
    const type = mapping.operation === 'query' ? 'Query' : 'Mutation';
    (resolvers[type] ??= {})[mapping.field] = (
      _: unknown,
      args: Record<string, unknown>,
      ctx: RequestContext | undefined,
    ) => call(options, mapping, args, ctx);
  }
  for (const [scalar, implementation] of Object.entries(GRPC_SCALARS)) {
    if (generated.sdl.includes(`scalar ${scalar}\n`))
      (resolvers as Record<string, unknown>)[scalar] = implementation;
  }
  return {
    document,
    // @apollo/subgraph does not export its resolver map type from the package root.
    schema: buildSubgraphSchema({ typeDefs: document, resolvers: resolvers as never }),
    sdl: generated.sdl,
    warnings: generated.unsupported,
  };
}

function call(
  options: GrpcAdapterOptions,
  mapping: MethodMapping,
  args: Record<string, unknown>,
  ctx: RequestContext | undefined,
): Promise<unknown> {
  const { name, source, channels } = options;
  const requestType = mapping.method.resolvedRequestType as protobuf.Type;
  const responseType = mapping.method.resolvedResponseType as protobuf.Type;
  const path = `/${mapping.service.fullName.slice(1)}/${mapping.method.name}`;
  const label = `${mapping.service.name}.${mapping.method.name}`;
  const request = requestType.fromObject(graphQLToMessage(requestType, args));
  const metadata = new grpc.Metadata();
  if (ctx) for (const [key, value] of Object.entries(ctx.upstreamHeaders)) metadata.set(key, value);
  const client = channels.get(source.address);
  const serialize = (message: protobuf.Message) =>
    Buffer.from(requestType.encode(message).finish());
  const deserialize = (bytes: Buffer) => responseType.decode(bytes);
  const toGraphQL = (message: unknown) =>
    isEmptyMessage(responseType)
      ? true
      : messageToGraphQL(responseType, message as Record<string, unknown>);
  const callOptions = { deadline: Date.now() + source.timeout };
  const fail = (error: grpc.ServiceError) =>
    errorForGrpcStatus(name, label, error.code, error.details ?? error.message);

  if (!mapping.streaming) {
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        path,
        serialize,
        deserialize,
        request,
        metadata,
        callOptions,
        (error, response) => (error ? reject(fail(error)) : resolve(toGraphQL(response))),
      );
    });
  }
  // Server streaming: collect up to max_stream_messages, then cancel the rest.
  return new Promise((resolve, reject) => {
    const items: unknown[] = [];
    let cancelled = false;
    const stream = client.makeServerStreamRequest(
      path,
      serialize,
      deserialize,
      request,
      metadata,
      callOptions,
    );
    stream.on('data', (message) => {
      items.push(toGraphQL(message));
      if (items.length >= source.max_stream_messages && !cancelled) {
        cancelled = true;
        stream.cancel();
        resolve(items);
      }
    });
    stream.on('error', (error: grpc.ServiceError) => {
      if (!(cancelled && error.code === grpc.status.CANCELLED)) reject(fail(error));
    });
    stream.on('end', () => resolve(items));
  });
}
