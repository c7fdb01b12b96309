import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse, print, Source, type DocumentNode, type GraphQLError } from 'graphql';
import type protobuf from 'protobufjs';
import { ConfigError } from '../../config/errors.ts';
import type { GrpcSource } from '../../config/schema.ts';
import type { ResolvedTls } from '../../config/load.ts';
import type { RequestContext } from '../../kernel/context.ts';
import { isServiceError, type HeaderRules, type Outbound } from '../../kernel/outbound.ts';
import type { AdapterSubgraph } from '../subgraph.ts';
import { createEntityLoaders } from '../entity-loader.ts';
import { select } from '../select.ts';
import { renderValue, type Template, type Values } from '../template.ts';
import { readChannelTls, type GrpcChannels } from './channels.ts';
import type { ChannelTls } from '../../kernel/outbound.ts';
import { messageCodec } from './codec.ts';
import { checkHealth } from './health.ts';
import { readOverlay, type GrpcCall, type Overlay } from './overlay.ts';
import { isEmptyMessage, loadProtos, ProtoLoadError, protosToSdl } from './proto-schema.ts';
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
  /** The overlay SDL (`schema.file`) that adds federation to the generated types. */
  overlay?: { sdl: string; file: string };
  /** TLS to the backend: PEM files (absolute); plaintext when absent. */
  tls?: ResolvedTls;
  /** The snapshot's outbound chain: every call goes through it. */
  outbound: Outbound;
  /** For the backend's health (/readyz), which is not request traffic. */
  channels: GrpcChannels;
}

type Obj = Record<string, unknown>;

/** /readyz must answer quickly even when a backend hangs. */
const HEALTH_TIMEOUT_MS = 1_000;

/**
 * The gRPC adapter: a federation subgraph generated from protos, optionally extended by an
 * overlay SDL with entities and references. Its fields call the service's methods through a
 * shared channel, with the per-subgraph deadline and the stage-set metadata (correlation id,
 * identity, trace) on every call.
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
  const tls =
    options.tls && readChannelTls(options.tls, options.configFile, `subgraphs.${name}.source.tls`);
  const invoke = createInvoker(options, tls);
  let document: DocumentNode = parse(new Source(generated.sdl, `${name} (generated from protos)`));
  const resolvers: Record<string, Record<string, unknown>> = {};
  const on = (type: string) => (resolvers[type] ??= {});
  let fieldLimits: Overlay['limits'] = new Map();

  for (const mapping of generated.methods) {
    on(mapping.operation === 'query' ? 'Query' : 'Mutation')[mapping.field] = (
      _: unknown,
      args: Obj,
      ctx?: RequestContext,
    ) =>
      invoke(
        mapping.service,
        mapping.method,
        args,
        ctx,
        mapping.streaming,
        mapping.operation === 'query',
      );
  }

  if (options.overlay) {
    const { overlay, issues } = readOverlay(
      parseOverlay(options.overlay),
      document,
      loaded.services,
      options.overlay.file,
    );
    if (issues.length > 0) throw new ConfigError(issues);
    document = overlay.document;
    fieldLimits = overlay.limits;
    for (const [where, call] of overlay.fields) {
      const [type = '', field = ''] = where.split('.');
      on(type)[field] = (parent: Obj, args: Obj, ctx?: RequestContext) =>
        callWith(invoke, call, { parent, args }, ctx, type !== 'Mutation');
    }
    for (const [where, key] of overlay.references) {
      const [type = '', field = ''] = where.split('.');
      on(type)[field] = (parent: Obj) => render(key, { parent });
    }
    const loaders = createEntityLoaders({
      subgraph: name,
      entities: overlay.entities,
      call: (entity, values, ctx) => callWith(invoke, entity, values, ctx, true),
    });
    for (const type of overlay.entities.keys()) {
      on(type).__resolveReference = (ref: Obj, ctx?: RequestContext) =>
        loaders.load(type, ref, ctx);
    }
  }
  for (const [enumName, values] of generated.enumValues) resolvers[enumName] = values;
  const sdl = print(document);
  for (const [scalar, implementation] of Object.entries(GRPC_SCALARS)) {
    if (sdl.includes(`scalar ${scalar}\n`)) (resolvers as Obj)[scalar] = implementation;
  }
  return {
    document,
    // @apollo/subgraph does not export its resolver map type from the package root.
    schema: buildSubgraphSchema({ typeDefs: document, resolvers: resolvers as never }),
    sdl: options.overlay ? sdl : generated.sdl,
    warnings: generated.unsupported,
    fieldLimits,
    // The empty service name asks about the server as a whole, which every health server knows.
    health: () => checkHealth(options.channels.get(source.address, tls), '', HEALTH_TIMEOUT_MS),
  };
}

function parseOverlay(overlay: { sdl: string; file: string }): DocumentNode {
  try {
    return parse(new Source(overlay.sdl, overlay.file));
  } catch (error) {
    const at = (error as GraphQLError).locations?.[0];
    throw new ConfigError([
      { file: overlay.file, path: '', message: (error as Error).message, ...(at ?? {}) },
    ]);
  }
}

type Invoke = (
  service: protobuf.Service,
  method: protobuf.Method,
  values: Obj,
  ctx: RequestContext | undefined,
  streaming: boolean,
  /** The field only reads (a query's, an entity's): the call may be retried. */
  reads: boolean,
) => Promise<unknown>;

function render(templates: readonly (readonly [string, Template])[], values: Values): Obj {
  return Object.fromEntries(
    templates.map(([name, template]) => [name, renderValue(template, values)]),
  );
}

async function callWith(
  invoke: Invoke,
  call: GrpcCall,
  values: Values,
  ctx: RequestContext | undefined,
  reads: boolean,
) {
  return select(
    await invoke(call.service, call.method, render(call.request, values), ctx, false, reads),
    call.select,
  );
}

function createInvoker(options: GrpcAdapterOptions, tls: ChannelTls | undefined): Invoke {
  const { name, source, outbound } = options;
  const rules: HeaderRules = { forward: source.forward_headers, set: source.headers };
  return async (service, method, values, ctx, streaming, reads) => {
    const requestType = method.resolvedRequestType as protobuf.Type;
    const responseType = method.resolvedResponseType as protobuf.Type;
    const path = `/${service.fullName.slice(1)}/${method.name}`;
    const label = `${service.name}.${method.name}`;
    const toGraphQL = (message: unknown) =>
      isEmptyMessage(responseType) ? true : messageToGraphQL(responseType, message as Obj);
    const call = {
      target: {
        backend: name,
        kind: 'grpc' as const,
        operation: path.slice(1),
        protocol: 'grpc' as const,
        address: source.address,
      },
      ctx,
      timeoutMs: source.timeout,
      headers: rules,
      idempotent: reads || declaredIdempotent(method),
      address: source.address,
      tls,
      path,
      serialize: messageCodec(requestType).encode,
      deserialize: messageCodec(responseType).decode,
      message: requestType.fromObject(graphQLToMessage(requestType, values)),
    };
    try {
      if (!streaming) return await outbound.grpcUnary(call, (answer) => toGraphQL(answer.message));
      // Server streaming: collect up to max_stream_messages, then cancel the rest.
      const items: unknown[] = [];
      await outbound.grpcStream(call, {
        onMessage(message) {
          items.push(toGraphQL(message));
          return items.length < source.max_stream_messages;
        },
      });
      return items;
    } catch (error) {
      if (!isServiceError(error)) throw error;
      throw errorForGrpcStatus(name, label, error.code, error.details ?? error.message);
    }
  };
}

/**
 * The proto says a method may be called again without harm (`option idempotency_level =
 * NO_SIDE_EFFECTS` or `IDEMPOTENT`, google/protobuf/descriptor.proto), whatever field calls it.
 */
export function declaredIdempotent(method: protobuf.Method): boolean {
  const level = method.options?.['idempotency_level'] as unknown;
  return level === 'NO_SIDE_EFFECTS' || level === 'IDEMPOTENT' || level === 1 || level === 2;
}
