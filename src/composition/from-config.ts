import { request } from 'undici';
import type { AdapterSubgraph } from '../adapters/subgraph.ts';
import type { LoadedConfig, ResolvedSchema } from '../config/load.ts';
import {
  composeSupergraph,
  CompositionError,
  type CompositionProblem,
  type SubgraphSdl,
} from './compose.ts';
import { toSupergraph, type Supergraph } from './supergraph.ts';

export interface ComposedSupergraph {
  supergraph: Supergraph;
  hints: CompositionProblem[];
  /** The subgraphs' SDL as composed: directives composition drops (cache hints) are read here. */
  subgraphs: SubgraphSdl[];
}

/** What a subgraph answers for its own SDL. https://www.apollographql.com/docs/federation/subgraph-spec */
const SERVICE_SDL_QUERY = 'query SubgraphIntrospectQuery { _service { sdl } }';
const INTROSPECTION_TIMEOUT_MS = 10_000;

/**
 * Where an adapter subgraph routes when no routing_url is set: a reserved name that never
 * resolves (RFC 2606). This gateway runs adapters in-process; another router serving the
 * composed supergraph needs the adapter run standalone and a real routing_url.
 */
export const adapterRoutingUrl = (name: string) => `http://${name}.adapter.invalid/graphql`;

/** Reads every subgraph's SDL named by the config and composes them. */
export async function composeFromConfig(
  loaded: LoadedConfig,
  adapters: ReadonlyMap<string, AdapterSubgraph> = new Map(),
): Promise<ComposedSupergraph> {
  const entries = Object.entries(loaded.config.subgraphs);
  const sdls = await Promise.all(
    entries.map(async ([name, subgraph]): Promise<SubgraphSdl> => {
      const schema = loaded.schemas.get(name);
      if (!schema) throw new Error(`internal: no resolved schema for subgraph "${name}"`);
      // routing_url is filled from schema.subgraph_url at load when absent.
      const url = subgraph.routing_url ?? adapterRoutingUrl(name);
      const document = adapters.get(name)?.document;
      return { name, url, ...(await readSdl(name, schema)), ...(document ? { document } : {}) };
    }),
  );
  const { supergraphSdl, hints } = composeSupergraph(sdls);
  return { supergraph: toSupergraph(supergraphSdl), hints, subgraphs: sdls };
}

async function readSdl(
  name: string,
  schema: ResolvedSchema,
): Promise<Pick<SubgraphSdl, 'sdl' | 'sourceName' | 'firstLine'>> {
  switch (schema.kind) {
    case 'file':
      return { sdl: schema.sdl, sourceName: schema.file };
    case 'sdl':
      return { sdl: schema.sdl, sourceName: schema.file, firstLine: schema.line };
    case 'openapi':
    case 'grpc':
      // The adapter generated this subgraph's SDL and hands composition its document.
      return { sdl: '', sourceName: `${name} (generated SDL)` };
    case 'subgraph_url':
      return {
        sdl: await introspect(name, schema.url, schema.headers),
        sourceName: `${name} (subgraph_url)`,
      };
  }
}

async function introspect(name: string, url: string, headers: Readonly<Record<string, string>>) {
  const fail = (reason: string) =>
    new CompositionError([
      {
        code: 'SUBGRAPH_SDL_UNAVAILABLE',
        message: `subgraph "${name}": cannot read its SDL from schema.subgraph_url: ${reason}`,
        locations: [],
      },
    ]);
  let body: unknown;
  try {
    const response = await request(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query: SERVICE_SDL_QUERY }),
      headersTimeout: INTROSPECTION_TIMEOUT_MS,
      bodyTimeout: INTROSPECTION_TIMEOUT_MS,
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw fail(`it answered HTTP ${response.statusCode}`);
    body = JSON.parse(text);
  } catch (error) {
    if (error instanceof CompositionError) throw error;
    throw fail((error as { code?: string }).code ?? (error as Error).message);
  }
  const sdl = (body as { data?: { _service?: { sdl?: unknown } } } | null)?.data?._service?.sdl;
  if (typeof sdl !== 'string' || sdl.length === 0)
    throw fail('the answer has no data._service.sdl');
  return sdl;
}
