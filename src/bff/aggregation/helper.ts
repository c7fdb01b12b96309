import DataLoader from 'dataloader';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { errorForStatus } from '../../adapters/rest/status-map.ts';
import type { RestSource } from '../../config/schema.ts';
import type { RequestContext } from '../../kernel/context.ts';
import { ErrorCode, UpstreamError } from '../../kernel/errors.ts';
import type { GraphRunner } from '../../kernel/graph-runner.ts';
import type { Bff, Operation, RestRequest, Variables } from './api.ts';

export interface BffHelperOptions {
  /** The BFF subgraph's name: its REST calls' default label. */
  readonly subgraph: string;
  readonly graph: GraphRunner;
  /** The REST sources it may call (`source.rest`), by subgraph name. */
  readonly rest: ReadonlyMap<string, RestSource>;
}

/**
 * The helper of one request (see api.ts). Its loaders live as long as the request: the BFF
 * subgraph keeps one helper per request context (subgraph.ts).
 */
export function createBffHelper(ctx: RequestContext, options: BffHelperOptions): Bff {
  const loaders = new Map<string, DataLoader<unknown, unknown, unknown>>();
  const identity = ctx.identity;
  const execute = async <TData>(
    document: string | Operation<TData, Variables>,
    variables?: Variables,
  ) => {
    const query = typeof document === 'string' ? document : document.text;
    const result = await options.graph.run(ctx, { query, variables });
    return result as { data?: TData | null; errors?: readonly GraphQLFormattedError[] };
  };
  return {
    caller: identity && {
      subject: identity.subject,
      scopes: identity.scopes,
      clientId: identity.clientId,
    },
    client: ctx.client?.id,
    execute,
    async query<TData>(document: string | Operation<TData, Variables>, variables?: Variables) {
      const { data, errors } = await execute<TData>(document, variables);
      const [first] = errors ?? [];
      if (first) throw sectionError(first);
      return data as TData;
    },
    loader<K, V, C>(
      name: string,
      batch: DataLoader.BatchLoadFn<K, V>,
      loaderOptions?: DataLoader.Options<K, V, C>,
    ) {
      let loader = loaders.get(name) as DataLoader<K, V, C> | undefined;
      if (!loader) {
        loader = new DataLoader(batch, loaderOptions);
        loaders.set(name, loader as DataLoader<unknown, unknown, unknown>);
      }
      return loader;
    },
    rest: (subgraph, request) => callRest(ctx, options, subgraph, request),
  };
}

/**
 * A sub-operation's error as the error of the field whose resolver ran it: its message and code
 * (already masked as a client's are), its subgraph; not its path, which was the sub-operation's,
 * nor an HTTP status, which would set the status of the whole response (a limit refusing a
 * sub-operation refuses that section, not the request).
 */
function sectionError(error: GraphQLFormattedError): GraphQLError {
  const { http: _http, ...extensions } = error.extensions ?? {};
  return new GraphQLError(error.message, {
    extensions: { ...extensions, code: extensions.code ?? ErrorCode.INTERNAL_SERVER_ERROR },
  });
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json/;

async function callRest<T>(
  ctx: RequestContext,
  options: BffHelperOptions,
  subgraph: string,
  request: RestRequest,
): Promise<T> {
  const source = options.rest.get(subgraph);
  if (!source)
    throw new Error(
      `subgraph ${options.subgraph} calls REST backend ${subgraph}, which its source.rest does not name`,
    );
  const base = new URL(source.base_url);
  const method = request.method ?? 'GET';
  const label = request.label ?? `${method} (${options.subgraph})`;
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(request.query ?? {}))
    search.append(name, Array.isArray(value) ? value.join(',') : String(value));
  const query = search.toString();
  const own: Record<string, string> = { accept: 'application/json' };
  if (request.body !== undefined) own['content-type'] = 'application/json';
  return ctx.snapshot.outbound.http(
    {
      target: {
        backend: subgraph,
        kind: 'rest',
        operation: label,
        protocol: 'http',
        address: base.host,
        method,
      },
      ctx,
      timeoutMs: source.timeout,
      headers: { forward: source.forward_headers, set: source.headers },
      ownHeaders: own,
      // GET is safe (RFC 9110 section 9.2.1): identical calls in flight may share one.
      idempotent: method === 'GET',
      origin: base.origin,
      path: `${base.pathname.replace(/\/$/, '')}${request.path}${query ? `?${query}` : ''}`,
      method,
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
    },
    async (answer) => {
      const text = await answer.body.text();
      if (answer.status < 200 || answer.status > 299)
        throw errorForStatus(
          subgraph,
          answer.status,
          label,
          text,
          source.errors.message?.split('.'),
        );
      if (text.trim() === '') return null as T;
      if (!JSON_TYPE.test(String(answer.headers['content-type'] ?? '')))
        throw new UpstreamError(subgraph, `answered ${label} with something other than JSON`, {
          status: answer.status,
          publicReason: 'answered with something other than JSON',
        });
      try {
        return JSON.parse(text) as T;
      } catch (error) {
        throw new UpstreamError(subgraph, `answered ${label} with malformed JSON`, {
          status: answer.status,
          cause: error,
          publicReason: 'answered with malformed JSON',
        });
      }
    },
  );
}
