import { buildSubgraphSchema } from '@apollo/subgraph';
import {
  getNullableType,
  GraphQLError,
  isListType,
  parse,
  Source,
  type GraphQLOutputType,
  type GraphQLResolveInfo,
} from 'graphql';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../../config/errors.ts';
import type { RestSource } from '../../config/schema.ts';
import { noteCacheControl } from '../../kernel/cache-control.ts';
import type { RequestContext } from '../../kernel/context.ts';
import { UpstreamError } from '../../kernel/errors.ts';
import type { HeaderRules, Outbound } from '../../kernel/outbound.ts';
import type { AdapterSubgraph } from '../subgraph.ts';
import { createEntityLoaders, type EntityLoaders } from '../entity-loader.ts';
import {
  readRestMapping,
  type BodyTemplate,
  type RestCall,
  type RestMapping,
} from './directives.ts';
import { openApiToSdl } from './openapi.ts';
import { select } from '../select.ts';
import { errorForStatus } from './status-map.ts';
import { renderPath, renderValue, type Template, type Values } from '../template.ts';

export type RestAdapterOptions = {
  name: string;
  source: RestSource;
  /** The SDL's file (or the OpenAPI document's), for locations in errors. */
  file: string;
  outbound: Outbound;
} & ({ sdl: string } | { openapi: string });

/** A call's answer: the JSON at `select`, or null for 204 and empty bodies. */
export type RestCaller = (
  call: RestCall,
  values: Values,
  ctx: RequestContext | undefined,
) => Promise<unknown>;

/**
 * The REST adapter: an executable federation subgraph whose resolvers are HTTP calls declared
 * in the SDL. It runs in-process with the gateway; nothing about it is a network hop but the
 * calls to the REST service itself.
 */
export function createRestAdapter(options: RestAdapterOptions): AdapterSubgraph {
  const { sdl, file, warnings } =
    'openapi' in options
      ? generate(options.openapi, options.file)
      : { sdl: options.sdl, file: options.file, warnings: [] };
  const document = parseSdl(sdl, file);
  const mapping = readRestMapping(document, file);
  const call = createCaller(options);
  const loaders = createEntityLoaders({
    subgraph: options.name,
    entities: mapping.entities,
    call,
    // A key field renamed with @restField is read from the property it is renamed from.
    itemKey: (type, field) => mapping.renames.get(`${type}.${field}`) ?? field,
  });
  const schema = buildSubgraphSchema({
    typeDefs: mapping.document,
    // @apollo/subgraph does not export its resolver map type from the package root.
    resolvers: buildResolvers(options.name, mapping, call, loaders) as never,
  });
  return { document: mapping.document, schema, sdl, warnings, fieldLimits: mapping.limits };
}

/** The SDL from an OpenAPI document (YAML or JSON); its locations name the generated text. */
function generate(text: string, file: string) {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    throw new ConfigError([{ file, path: '', message: `not valid YAML or JSON: ${reason}` }]);
  }
  try {
    const { sdl, unsupported } = openApiToSdl(document);
    return {
      sdl,
      file: `${file} (generated SDL)`,
      warnings: unsupported.map((u) => `${file}: ${u}`),
    };
  } catch (error) {
    throw new ConfigError([{ file, path: '', message: (error as Error).message }]);
  }
}

/** A syntax error in an adapter's SDL is a config error at its line, like any other. */
function parseSdl(sdl: string, file: string) {
  try {
    return parse(new Source(sdl, file));
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    const at = error.locations?.[0];
    throw new ConfigError([
      {
        file,
        path: '',
        message: error.message,
        ...(at
          ? { line: at.line, column: at.column, snippet: sdl.split(/\r?\n/)[at.line - 1] ?? '' }
          : {}),
      },
    ]);
  }
}

function buildResolvers(
  name: string,
  mapping: RestMapping,
  call: RestCaller,
  loaders: EntityLoaders,
): Record<string, Record<string, unknown>> {
  const resolvers: Record<string, Record<string, unknown>> = {};
  const typeOf = (name: string) => (resolvers[name] ??= {});

  for (const [where, rest] of mapping.fields) {
    const [type = '', field = ''] = where.split('.');
    const parentFields = parentPlaceholders(rest);
    typeOf(type)[field] = async (
      parent: Record<string, unknown> | undefined,
      args: Record<string, unknown>,
      ctx: RequestContext | undefined,
      info: GraphQLResolveInfo,
    ) => {
      const parentValues: Record<string, unknown> = {};
      for (const name of parentFields)
        parentValues[name] = parent?.[mapping.renames.get(`${type}.${name}`) ?? name];
      const value = await call(rest, { args, parent: parentValues }, ctx);
      return checkShape(name, value, info.returnType, rest.label);
    };
  }
  for (const [where, from] of mapping.renames) {
    const [type = '', field = ''] = where.split('.');
    if (!mapping.fields.has(where))
      typeOf(type)[field] = (parent: Record<string, unknown>) => parent[from];
  }
  for (const type of mapping.entities.keys()) {
    typeOf(type).__resolveReference = (
      ref: Record<string, unknown>,
      ctx: RequestContext | undefined,
    ) => loaders.load(type, ref, ctx);
  }
  return resolvers;
}

function parentPlaceholders(call: RestCall): string[] {
  const names = new Set<string>();
  const visit = (t: Template) => {
    for (const part of t.parts)
      if (typeof part !== 'string' && part.scope === 'parent') names.add(part.path[0] as string);
  };
  visit(call.path);
  for (const [, t] of [...call.query, ...call.headers]) visit(t);
  const visitBody = (b: BodyTemplate | undefined) => {
    if (!b) return;
    if ('parts' in b && Array.isArray(b.parts)) visit(b as Template);
    else for (const v of Object.values(b as Record<string, BodyTemplate>)) visitBody(v);
  };
  visitBody(call.body);
  return [...names];
}

/**
 * A list where the schema says list, an object or scalar where it says so: a backend that
 * answers otherwise answered garbage, and the client hears it as UPSTREAM_ERROR, not as an
 * internal error from deep inside execution.
 */
function checkShape(
  subgraph: string,
  value: unknown,
  type: GraphQLOutputType,
  label: string,
): unknown {
  if (value === null || value === undefined) return value;
  const wantsList = isListType(getNullableType(type));
  if (wantsList !== Array.isArray(value)) {
    throw new UpstreamError(
      subgraph,
      `answered ${label} with ${Array.isArray(value) ? 'a list' : 'a single value'} where ${wantsList ? 'a list' : 'a single value'} was expected`,
    );
  }
  return value;
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json/;

function createCaller(options: RestAdapterOptions): RestCaller {
  const { name, source, outbound } = options;
  const base = new URL(source.base_url);
  const basePath = base.pathname.replace(/\/$/, '');
  const rules: HeaderRules = { forward: source.forward_headers, set: source.headers };

  return (call, values, ctx) => {
    const search = new URLSearchParams();
    for (const [param, template] of call.query) {
      const value = renderValue(template, values);
      if (value === null || value === undefined) continue;
      search.append(param, Array.isArray(value) ? value.join(',') : String(value));
    }
    const own: Record<string, string> = { accept: 'application/json' };
    for (const [header, template] of call.headers) {
      const value = renderValue(template, values);
      if (value !== null && value !== undefined) own[header.toLowerCase()] = String(value);
    }
    let body: string | undefined;
    if (call.body) {
      body = JSON.stringify(renderBody(call.body, values) ?? null);
      own['content-type'] = 'application/json';
    }
    const query = search.toString();
    return outbound.http(
      {
        target: {
          backend: name,
          kind: 'rest',
          operation: call.label,
          protocol: 'http',
          address: base.host,
          method: call.method,
        },
        ctx,
        timeoutMs: source.timeout,
        headers: rules,
        ownHeaders: own,
        // GET is safe (RFC 9110 section 9.2.1): identical calls in flight may share one.
        idempotent: call.method === 'GET',
        origin: base.origin,
        path: `${basePath}${renderPath(call.path, values)}${query ? `?${query}` : ''}`,
        method: call.method,
        ...(body === undefined ? {} : { body }),
      },
      async (response) => {
        const text = await response.body.text();
        if (response.status < 200 || response.status > 299) {
          throw errorForStatus(name, response.status, call.label, text);
        }
        if (ctx) noteCacheControl(ctx, name, response.headers['cache-control']);
        if (response.status === 204 || text.trim() === '') return null;
        const type = String(response.headers['content-type'] ?? '');
        if (!JSON_TYPE.test(type)) {
          throw new UpstreamError(
            name,
            `answered ${call.label} with ${type ? `content type ${type.split(';')[0]}` : 'no content type'} instead of JSON`,
            { status: response.status, cause: new Error(`Body: ${text.slice(0, 2048)}`) },
          );
        }
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch (error) {
          throw new UpstreamError(name, `answered ${call.label} with malformed JSON`, {
            status: response.status,
            cause: error,
          });
        }
        return select(json, call.select);
      },
    );
  };
}

function renderBody(body: BodyTemplate, values: Values): unknown {
  if ('parts' in body && Array.isArray(body.parts)) return renderValue(body as Template, values);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body as Record<string, BodyTemplate>)) {
    const rendered = renderBody(value, values);
    if (rendered !== undefined) out[key] = rendered;
  }
  return out;
}
