import { status as GrpcStatus } from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { loadProtos, ProtoLoadError } from '../adapters/grpc/proto-schema.ts';
import { select } from '../adapters/select.ts';
import { CODE_OF_GRPC_STATUS, ErrorCode } from '../kernel/errors.ts';
import { ConfigError, type ConfigIssue } from '../config/errors.ts';
import type { HeaderRules } from '../kernel/outbound.ts';
import type { ResolvedGrpcService } from '../config/load.ts';
import { expandTemplate, readHttpBindings, TemplateError, type HttpBinding } from './http-rule.ts';
import {
  fromProtoJson,
  jsonName,
  JsonMappingError,
  toProtoJson,
} from '../adapters/grpc/proto-json.ts';
import { grpcStatusOfHttp } from './status-map.ts';
import { fieldsAlong } from './transcode-request.ts';

/**
 * gRPC to REST (`grpc_server` in supergraph.yaml): a REST backend described by a proto whose
 * methods carry `google.api.http` annotations is served to gRPC clients. Each call becomes the
 * HTTP request its annotation names (the transcoding rules run backwards: fields fill the path
 * template, the body, then the query) and the JSON answer becomes the reply message.
 */

type Obj = Record<string, unknown>;

export interface FrontBackend {
  readonly origin: string;
  /** `host:port`, for spans. */
  readonly host: string;
  /** The base URL's own path, prepended to every annotated path. */
  readonly basePath: string;
  readonly timeout: number;
  /** `headers` inserted, `forward_metadata` passed on from the caller's metadata. */
  readonly headerRules: HeaderRules;
}

export interface FrontMethod {
  /** The `grpc_server.services` entry. */
  readonly entry: string;
  /** `/package.Service/Method`, the path gRPC calls it by. */
  readonly path: string;
  readonly name: string;
  readonly requestType: protobuf.Type;
  readonly responseType: protobuf.Type;
  /** The first binding; a method without one answers UNIMPLEMENTED. */
  readonly binding?: HttpBinding;
  readonly backend: FrontBackend;
}

export interface FrontService {
  /** Fully qualified, without the leading dot. */
  readonly name: string;
  readonly methods: readonly FrontMethod[];
}

export interface GrpcFront {
  readonly services: readonly FrontService[];
  /** By `/package.Service/Method`. */
  readonly methods: ReadonlyMap<string, FrontMethod>;
  /** Proto files and include directories, for server reflection. */
  readonly files: readonly string[];
  readonly includeDirs: readonly string[];
  /** Methods that stream or lack an annotation, by name: logged at load. */
  readonly warnings: readonly string[];
}

export function createGrpcFront(
  entries: ReadonlyMap<string, ResolvedGrpcService>,
  configFile: string,
): GrpcFront {
  const services: FrontService[] = [];
  const methods = new Map<string, FrontMethod>();
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  for (const [entry, resolved] of entries) {
    const at = `grpc_server.services.${entry}`;
    let loaded: protobuf.Service[];
    try {
      loaded = loadProtos(resolved.files, resolved.includeDirs, true).services;
    } catch (error) {
      if (!(error instanceof ProtoLoadError)) throw error;
      issues.push({ file: configFile, path: `${at}.protos`, message: error.message });
      continue;
    }
    const wanted = resolved.config.services;
    if (wanted) loaded = loaded.filter((s) => wanted.includes(s.fullName.slice(1)));
    const url = new URL(resolved.config.base_url);
    const backend: FrontBackend = {
      origin: url.origin,
      host: url.host,
      basePath: url.pathname.replace(/\/+$/, ''),
      timeout: resolved.config.timeout,
      headerRules: {
        forward: resolved.config.forward_metadata,
        set: resolved.config.headers,
      },
    };
    for (const service of loaded) {
      const serviceName = service.fullName.slice(1);
      const own: FrontMethod[] = [];
      for (const method of service.methodsArray) {
        if (method.requestStream || method.responseStream) {
          warnings.push(`${serviceName}/${method.name}: streaming has no REST form; not served`);
          continue;
        }
        let binding: HttpBinding | undefined;
        try {
          binding = readHttpBindings(method)[0];
        } catch (error) {
          if (!(error instanceof TemplateError)) throw error;
          issues.push({
            file: configFile,
            path: at,
            message: `${serviceName}/${method.name}: ${error.message}`,
          });
          continue;
        }
        if (!binding)
          warnings.push(`${serviceName}/${method.name}: no google.api.http; answers UNIMPLEMENTED`);
        const front: FrontMethod = {
          entry,
          path: `/${serviceName}/${method.name}`,
          name: method.name,
          requestType: method.resolvedRequestType as protobuf.Type,
          responseType: method.resolvedResponseType as protobuf.Type,
          ...(binding ? { binding } : {}),
          backend,
        };
        own.push(front);
        methods.set(front.path, front);
      }
      services.push({ name: serviceName, methods: own });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return {
    services,
    methods,
    files: [...entries.values()].flatMap((e) => e.files),
    includeDirs: [...new Set([...entries.values()].flatMap((e) => e.includeDirs))],
    warnings,
  };
}

export interface RestRequest {
  method: string;
  /** Path and query, relative to the backend's origin. */
  path: string;
  body?: string;
}

/** A decoded request message as the HTTP request its binding names. */
export function restRequestOf(
  method: FrontMethod,
  binding: HttpBinding,
  message: Obj,
): RestRequest {
  const type = method.requestType;
  // Path values by proto name, defaults included (an empty id still fills its segment); only
  // templates with variables need this second rendering.
  const byProtoName =
    binding.template.variables.length > 0
      ? (toProtoJson(type, message, { useProtoNames: true, emitDefaults: true }) as Obj)
      : {};
  const json = toProtoJson(type, message) as Obj;
  const jsonKeys = (protoPath: string) =>
    (fieldsAlong(type, protoPath.split('.')) ?? []).map((f) => jsonName(f));

  const path = expandTemplate(binding.template, (fieldPath) => {
    const value = select(byProtoName, fieldPath.split('.'));
    return value === undefined || value === null ? '' : String(value);
  });
  // Fields in the path are not sent again in the body or the query.
  for (const variable of binding.template.variables)
    deleteAt(json, jsonKeys(variable.fieldPath.join('.')));
  let body: unknown;
  if (binding.body === '*') {
    body = json;
  } else if (binding.body !== undefined) {
    const keys = jsonKeys(binding.body);
    body = select(json, keys) ?? {};
    deleteAt(json, keys);
  }
  const query = new URLSearchParams();
  if (binding.body !== '*') appendQuery(query, json, '');
  const search = query.toString();
  return {
    method: binding.httpMethod,
    path: `${method.backend.basePath}${path}${search ? `?${search}` : ''}`,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  };
}

function deleteAt(root: Obj, keys: readonly string[]): void {
  let current: unknown = root;
  for (const key of keys.slice(0, -1))
    current = current && typeof current === 'object' ? (current as Obj)[key] : undefined;
  if (current && typeof current === 'object')
    delete (current as Obj)[keys[keys.length - 1] as string];
}

/** Fields left over as query parameters: nested as `a.b=c`, repeated by repetition. */
function appendQuery(query: URLSearchParams, value: unknown, prefix: string): void {
  if (Array.isArray(value)) {
    for (const item of value)
      if (item === null || typeof item !== 'object') query.append(prefix, String(item));
  } else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value as Obj))
      appendQuery(query, inner, prefix ? `${prefix}.${key}` : key);
  } else if (value !== undefined && value !== null) {
    query.append(prefix, String(value));
  }
}

/** A failed call as the status its gRPC caller gets. */
export class FrontError extends Error {
  readonly code: GrpcStatus;

  constructor(code: GrpcStatus, message: string) {
    super(message);
    this.code = code;
  }

  /** The gateway code the status stands for: the outcome in logs and metrics. */
  get outcome(): string {
    return CODE_OF_GRPC_STATUS[this.code] ?? ErrorCode.UPSTREAM_ERROR;
  }
}

/**
 * The backend's HTTP answer as the reply message (fromObject-ready), or a FrontError: a 2xx
 * body that is not the reply message is the backend's fault (UNKNOWN); other statuses map by
 * the status table, with the backend's own message for client errors (a JSON `message` or
 * `error` string) and none for server errors, whose text describes the backend's insides.
 */
export function replyOf(method: FrontMethod, status: number, text: string): Obj {
  const code = grpcStatusOfHttp(status);
  if (code !== GrpcStatus.OK) {
    const said = status < 500 ? messageIn(text) : undefined;
    throw new FrontError(code, said ?? `The backend answered HTTP ${status}.`);
  }
  let json: unknown = {};
  if (text.trim() !== '') {
    try {
      json = JSON.parse(text);
    } catch {
      throw new FrontError(GrpcStatus.UNKNOWN, `The backend answered HTTP ${status} without JSON.`);
    }
  }
  const responseBody = method.binding?.responseBody;
  try {
    return fromProtoJson(method.responseType, responseBody ? { [responseBody]: json } : json, {
      ignoreUnknown: true,
    });
  } catch (error) {
    if (!(error instanceof JsonMappingError)) throw error;
    throw new FrontError(
      GrpcStatus.UNKNOWN,
      `The backend's answer does not fit ${method.responseType.name}: ${error.message}`,
    );
  }
}

function messageIn(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as Obj;
    const said = body.message ?? body.error;
    return typeof said === 'string' ? said.slice(0, 500) : undefined;
  } catch {
    return undefined;
  }
}
