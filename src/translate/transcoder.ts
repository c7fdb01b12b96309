import type protobuf from 'protobufjs';
import { readChannelTls } from '../adapters/grpc/channels.ts';
import { declaredIdempotent } from '../adapters/grpc/executor.ts';
import { loadProtos, ProtoLoadError } from '../adapters/grpc/proto-schema.ts';
import { ConfigError, type ConfigIssue } from '../config/errors.ts';
import type { ResolvedTranscode } from '../config/load.ts';
import type { AuthMode, TranscodeConfig } from '../config/schema.ts';
import type { ChannelTls, HeaderRules } from '../kernel/outbound.ts';
import {
  compareSpecificity,
  matchTemplate,
  parseTemplate,
  readHttpBindings,
  TemplateError,
  type HttpBinding,
} from './http-rule.ts';
import { fieldsAlong, takesString } from './transcode-request.ts';

/**
 * The HTTP/JSON face of gRPC services (`transcode` in supergraph.yaml): every binding of every
 * served method, ordered so the most specific template wins, and the channel each calls through.
 */

export interface TranscodeRoute {
  /** The `transcode` entry it comes from. */
  readonly entry: string;
  readonly config: TranscodeConfig;
  /** `package.Service/Method`, as gRPC names it on the wire (without the leading slash). */
  readonly rpc: string;
  readonly binding: HttpBinding;
  readonly requestType: protobuf.Type;
  readonly responseType: protobuf.Type;
  readonly streaming: boolean;
  /** A GET binding, or a method its proto declares idempotent: calls may be retried. */
  readonly idempotent: boolean;
  readonly timeout: number;
  /** `host:port` of the backend. */
  readonly address: string;
  /** TLS to the backend (PEM contents read at load); plaintext when absent. */
  readonly tls: ChannelTls | undefined;
  /** Client headers passed on as metadata (`forward_headers`). */
  readonly headerRules: HeaderRules;
  /** What the method demands of callers (`method_auth`, else `auth`); undefined: the surface's. */
  readonly auth: AuthMode | undefined;
}

export type TranscodeMatch =
  | { kind: 'route'; route: TranscodeRoute; pathValues: ReadonlyMap<string, string> }
  /** The path exists under other methods: a 405 with `Allow`. */
  | { kind: 'method'; allowed: string[] };

export interface Transcoder {
  readonly routes: readonly TranscodeRoute[];
  match(method: string, path: string): TranscodeMatch | undefined;
}

export interface TranscoderInput {
  entries: ReadonlyMap<string, ResolvedTranscode>;
  /** supergraph.yaml, for locating problems. */
  configFile: string;
}

export function createTranscoder(input: TranscoderInput): Transcoder {
  const routes: TranscodeRoute[] = [];
  const issues: ConfigIssue[] = [];
  for (const [entry, resolved] of input.entries) {
    const at = `transcode.${entry}`;
    const issue = (path: string, message: string) =>
      issues.push({ file: input.configFile, path: path ? `${at}.${path}` : at, message });
    let services: protobuf.Service[];
    try {
      services = loadProtos(resolved.files, resolved.includeDirs, true).services;
    } catch (error) {
      if (!(error instanceof ProtoLoadError)) throw error;
      issue('protos', error.message);
      continue;
    }
    const wanted = resolved.config.services;
    if (wanted) {
      const names = services.map((s) => s.fullName.slice(1));
      wanted.forEach((name, i) => {
        if (!names.includes(name))
          issue(
            `services[${i}]`,
            `no service ${name} in the protos (services: ${names.join(', ')})`,
          );
      });
      services = services.filter((s) => wanted.includes(s.fullName.slice(1)));
    }
    const tls = resolved.tls && readChannelTls(resolved.tls, input.configFile, `${at}.tls`);
    const headerRules: HeaderRules = { forward: resolved.config.forward_headers, set: {} };
    const methodAuth = resolved.config.method_auth;
    const authNamed = new Set<string>();
    for (const service of services) {
      for (const method of service.methodsArray) {
        const rpc = `${service.fullName.slice(1)}/${method.name}`;
        const qualified = `${service.fullName.slice(1)}.${method.name}`;
        const authKey = Object.hasOwn(methodAuth, qualified) ? qualified : method.name;
        if (Object.hasOwn(methodAuth, authKey)) authNamed.add(authKey);
        const auth = methodAuth[authKey] ?? resolved.config.auth;
        // Client and bidirectional streams have no HTTP/1 request-response form.
        if (method.requestStream) continue;
        let bindings: HttpBinding[];
        try {
          bindings = readHttpBindings(method);
        } catch (error) {
          if (!(error instanceof TemplateError)) throw error;
          issue('', `${rpc}: google.api.http: ${error.message}`);
          continue;
        }
        if (bindings.length === 0 && resolved.config.unannotated)
          bindings = [{ httpMethod: 'POST', template: parseTemplate(`/${rpc}`), body: '*' }];
        const requestType = method.resolvedRequestType as protobuf.Type;
        const responseType = method.resolvedResponseType as protobuf.Type;
        for (const binding of bindings) {
          const problem = checkBinding(binding, requestType, responseType);
          if (problem) {
            issue('', `${rpc}: ${binding.httpMethod} ${binding.template.source}: ${problem}`);
            continue;
          }
          routes.push({
            entry,
            config: resolved.config,
            rpc,
            binding,
            requestType,
            responseType,
            streaming: Boolean(method.responseStream),
            idempotent: binding.httpMethod === 'GET' || declaredIdempotent(method),
            timeout: resolved.timeout,
            address: resolved.address,
            tls,
            headerRules,
            auth,
          });
        }
      }
    }
    // A policy key that names no method would leave the method it meant open: refuse it.
    for (const key of Object.keys(methodAuth))
      if (!authNamed.has(key))
        issue(
          `method_auth.${key}`,
          `names no method served here (Method or package.Service.Method)`,
        );
  }
  if (issues.length > 0) throw new ConfigError(issues);
  // A stable sort: equally specific templates keep the order the protos declare them in.
  routes.sort((a, b) => compareSpecificity(a.binding.template, b.binding.template));
  return {
    routes,
    match(method, path) {
      const allowed: string[] = [];
      for (const route of routes) {
        const found = matchTemplate(route.binding.template, path);
        if (!found) continue;
        if (route.binding.httpMethod === method)
          return { kind: 'route', route, pathValues: found.values };
        if (!allowed.includes(route.binding.httpMethod)) allowed.push(route.binding.httpMethod);
      }
      return allowed.length > 0 ? { kind: 'method', allowed } : undefined;
    },
  };
}

/** What makes a binding unusable with its messages, checked once at load. */
function checkBinding(
  binding: HttpBinding,
  requestType: protobuf.Type,
  responseType: protobuf.Type,
): string | undefined {
  for (const variable of binding.template.variables) {
    const path = variable.fieldPath.join('.');
    const fields = fieldsAlong(requestType, variable.fieldPath);
    if (!fields) return `no field ${path} in ${requestType.name}`;
    const leaf = fields[fields.length - 1] as protobuf.Field;
    if (fields.some((f) => f.repeated) || !takesString(leaf))
      return `path variable ${path} must name a singular scalar field`;
  }
  if (binding.body !== undefined && binding.body !== '*') {
    const fields = fieldsAlong(requestType, binding.body.split('.'));
    if (!fields) return `body names no field ${binding.body} of ${requestType.name}`;
    if (fields.some((f) => f.map)) return `body ${binding.body} is a map`;
  }
  if (binding.responseBody !== undefined && !responseType.fields[binding.responseBody])
    return `response_body names no field ${binding.responseBody} of ${responseType.name}`;
  return undefined;
}
