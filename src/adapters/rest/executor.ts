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
import { ErrorCode, GatewayError, UpstreamError } from '../../kernel/errors.ts';
import type { HeaderRules, Outbound } from '../../kernel/outbound.ts';
import type { AdapterSubgraph } from '../subgraph.ts';
import { createEntityLoaders, type EntityLoaders } from '../entity-loader.ts';
import {
  isTemplate,
  readRestMapping,
  type BodyTemplate,
  type RestCall,
  type RestMapping,
  type RestReference,
} from './directives.ts';
import { openApiToSdl } from './openapi.ts';
import { select } from '../select.ts';
import { errorForStatus } from './status-map.ts';
import { placeholders, renderPath, renderValue, type Template, type Values } from '../template.ts';

export type RestAdapterOptions = {
  name: string;
  source: RestSource;
  /** The SDL's file (or the OpenAPI document's), for locations in errors. */
  file: string;
  outbound: Outbound;
} & ({ sdl: string } | { openapi: string });

/**
 * A call's answer: the JSON at `select`, or null for 204 and empty bodies. `reads`: the call is
 * a query's or an entity's, so an identical one in the same operation shares its answer.
 */
export type RestCaller = (
  call: RestCall,
  values: Values,
  ctx: RequestContext | undefined,
  reads?: boolean,
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
    call: (entity, values, ctx) => call(entity, values, ctx, true),
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
  /** A field of a parent object as the service answered it: through its @restField rename. */
  const read = (type: string, parent: Record<string, unknown> | undefined, field: string) => {
    const from = mapping.renames.get(`${type}.${field}`);
    // Own properties only (select): a name from the SDL never reaches a prototype.
    return select(parent, from === undefined ? [field] : from.split('.'));
  };

  for (const [where, rest] of mapping.fields) {
    const [type = '', field = ''] = where.split('.');
    const parentFields = parentPlaceholders(rest);
    // GraphQL executes a query's fields as reads (and a mutation's in order, each once): only
    // a read's call may share an identical call's answer within the operation.
    const reads = type !== 'Mutation';
    typeOf(type)[field] = async (
      parent: Record<string, unknown> | undefined,
      args: Record<string, unknown>,
      ctx: RequestContext | undefined,
      info: GraphQLResolveInfo,
    ) => {
      const parentValues: Record<string, unknown> = {};
      for (const name of parentFields) parentValues[name] = read(type, parent, name);
      const value = await call(rest, { args, parent: parentValues }, ctx, reads);
      return checkShape(name, value, info.returnType, rest.label);
    };
  }
  for (const [where, from] of mapping.renames) {
    const [type = '', field = ''] = where.split('.');
    if (!mapping.fields.has(where) && !mapping.references.has(where)) {
      const path = from.split('.');
      typeOf(type)[field] = (parent: Record<string, unknown>) => select(parent, path);
    }
  }
  for (const [where, reference] of mapping.references) {
    const [type = '', field = ''] = where.split('.');
    typeOf(type)[field] = (parent: Record<string, unknown>) =>
      referenceFrom(reference, (name) => read(type, parent, name));
  }
  for (const type of mapping.entities.keys()) {
    typeOf(type).__resolveReference = (
      ref: Record<string, unknown>,
      ctx: RequestContext | undefined,
    ) => loaders.load(type, ref, ctx);
  }
  for (const type of mapping.keyOnly) {
    // The representation is the entity. Its fields are the graph's names; the other fields'
    // resolvers read the service's (`{parent.id}` through `@restField(from: "product_id")`),
    // so each renamed field is put where they look for it.
    typeOf(type).__resolveReference = (ref: Record<string, unknown>) => {
      const entity: Record<string, unknown> = { ...ref };
      for (const [field, value] of Object.entries(ref)) {
        const from = mapping.renames.get(`${type}.${field}`);
        if (from !== undefined) place(entity, from.split('.'), value);
      }
      return entity;
    };
  }
  return resolvers;
}

/** Sets `value` at a dotted path of `target`, making the objects on the way. */
function place(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let at = target;
  for (const [i, segment] of path.entries()) {
    if (i === path.length - 1) {
      at[segment] = value;
      return;
    }
    const next = at[segment];
    at = at[segment] =
      typeof next === 'object' && next !== null ? { ...(next as Record<string, unknown>) } : {};
  }
}

/**
 * `{ __typename, ...key }` of the entity a field references (`@restReference`), rendered from
 * the parent: the gateway fetches the rest from the subgraph that owns the entity. A key value
 * that is null or absent is no reference: the field is null (for a list field, that item is
 * left out).
 */
function referenceFrom(reference: RestReference, parentField: (name: string) => unknown): unknown {
  const parent: Record<string, unknown> = {};
  for (const [, template] of reference.key)
    for (const p of placeholders(template))
      parent[p.path[0] as string] = parentField(p.path[0] as string);
  const values = reference.key.map(([field, template]) => [
    field,
    renderValue(template, { parent }),
  ]);
  const present = (value: unknown) => value !== null && value !== undefined && value !== '';
  if (!reference.list) {
    if (!values.every(([, value]) => present(value))) return null;
    return { __typename: reference.type, ...Object.fromEntries(values) };
  }
  const lists = values.map(([, value]) => (Array.isArray(value) ? value : []));
  const length = Math.min(...lists.map((l) => l.length));
  const items: Record<string, unknown>[] = [];
  for (let i = 0; i < length; i++) {
    const key = values.map(([field], k) => [field, lists[k]?.[i]] as const);
    if (key.every(([, value]) => present(value)))
      items.push({ __typename: reference.type, ...Object.fromEntries(key) });
  }
  return items;
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
    if (isTemplate(b)) visit(b);
    else for (const v of Object.values(b)) visitBody(v);
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
    const shape = `${Array.isArray(value) ? 'a list' : 'a single value'} where ${wantsList ? 'a list' : 'a single value'} was expected`;
    throw new UpstreamError(subgraph, `answered ${label} with ${shape}`, {
      publicReason: `answered with ${shape}`,
    });
  }
  return value;
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json/;

/** What one operation has asked of the service so far: answers of reads, and the count. */
interface OperationCalls {
  readonly answers: Map<string, Promise<unknown>>;
  made: number;
}

function createCaller(options: RestAdapterOptions): RestCaller {
  const { name, source, outbound } = options;
  const base = new URL(source.base_url);
  const basePath = base.pathname.replace(/\/$/, '');
  const rules: HeaderRules = { forward: source.forward_headers, set: source.headers };
  const messagePath = source.errors.message?.split('.');
  // Per request, so nothing outlives the operation (kernel/context.ts: one context a request).
  const operations = new WeakMap<RequestContext, OperationCalls>();

  const send = (
    call: RestCall,
    path: string,
    own: Record<string, string>,
    body: string | undefined,
    ctx: RequestContext | undefined,
  ) =>
    outbound.http(
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
        path,
        method: call.method,
        ...(body === undefined ? {} : { body }),
      },
      async (response) => {
        const text = await response.body.text();
        if (response.status < 200 || response.status > 299) {
          throw errorForStatus(name, response.status, call.label, text, messagePath);
        }
        if (ctx) noteCacheControl(ctx, name, response.headers['cache-control']);
        if (response.status === 204 || text.trim() === '') return null;
        const type = String(response.headers['content-type'] ?? '');
        if (!JSON_TYPE.test(type)) {
          const what = type ? `content type ${type.split(';')[0]}` : 'no content type';
          throw new UpstreamError(name, `answered ${call.label} with ${what} instead of JSON`, {
            status: response.status,
            cause: new Error(`Body: ${text.slice(0, 2048)}`),
            publicReason: `answered with ${what} instead of JSON`,
          });
        }
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch (error) {
          throw new UpstreamError(name, `answered ${call.label} with malformed JSON`, {
            status: response.status,
            cause: error,
            publicReason: 'answered with malformed JSON',
          });
        }
        return select(json, call.select);
      },
    );

  return (call, values, ctx, reads = false) => {
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
    if (call.body && call.bodyType === 'form') {
      body = formBody(renderBody(call.body, values));
      own['content-type'] = 'application/x-www-form-urlencoded';
    } else if (call.body) {
      body = JSON.stringify(renderBody(call.body, values) ?? null);
      own['content-type'] = 'application/json';
    }
    const query = search.toString();
    const path = `${basePath}${renderPath(call.path, values)}${query ? `?${query}` : ''}`;
    if (!ctx) return send(call, path, own, body, ctx);

    let operation = operations.get(ctx);
    if (!operation) operations.set(ctx, (operation = { answers: new Map(), made: 0 }));
    // Identical reads (500 aliases of one field, one parent id under many items) are one call:
    // everything the service sees is in the key, so a shared answer is the answer each would get.
    const key = reads ? JSON.stringify([call.method, path, own, body ?? null]) : undefined;
    const shared = key === undefined ? undefined : operation.answers.get(key);
    if (shared) return shared;
    if (operation.made >= source.max_calls_per_operation) {
      return Promise.reject(
        new GatewayError(
          ErrorCode.REQUEST_LIMIT_EXCEEDED,
          `Subgraph "${name}": the operation needs more than ${source.max_calls_per_operation} calls to its service (max_calls_per_operation); this call was not made.`,
          { subgraph: name },
        ),
      );
    }
    operation.made++;
    const answer = send(call, path, own, body, ctx);
    if (key !== undefined) operation.answers.set(key, answer);
    return answer;
  };
}

/**
 * A FORM body (application/x-www-form-urlencoded, https://url.spec.whatwg.org/#urlencoded-serializing):
 * one name per field, a list as the name repeated, null or absent values left out. The SDL was
 * checked flat at load; an object that still arrives here (a JSON scalar's value) is sent as JSON
 * text rather than guessed at.
 */
function formBody(value: unknown): string {
  const form = new URLSearchParams();
  const text = (v: unknown) => (typeof v === 'object' ? JSON.stringify(v) : String(v));
  for (const [field, v] of Object.entries((value ?? {}) as Record<string, unknown>)) {
    if (v === null || v === undefined) continue;
    if (Array.isArray(v)) {
      for (const item of v) if (item !== null && item !== undefined) form.append(field, text(item));
    } else form.append(field, text(v));
  }
  return form.toString();
}

function renderBody(body: BodyTemplate, values: Values): unknown {
  if (isTemplate(body)) return renderValue(body, values);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    const rendered = renderBody(value, values);
    if (rendered !== undefined) out[key] = rendered;
  }
  return out;
}
