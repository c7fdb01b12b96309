import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
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
  const notices: CompositionProblem[] = [];
  const sdls = await Promise.all(
    entries.map(async ([name, subgraph]): Promise<SubgraphSdl> => {
      const schema = loaded.schemas.get(name);
      if (!schema) throw new Error(`internal: no resolved schema for subgraph "${name}"`);
      // routing_url is filled from schema.subgraph_url at load when absent.
      const url = subgraph.routing_url ?? adapterRoutingUrl(name);
      const document = adapters.get(name)?.document;
      const read = await readSdl(name, schema);
      if (read.notice) notices.push(read.notice);
      return {
        name,
        url,
        sdl: read.sdl,
        sourceName: read.sourceName,
        ...(read.firstLine === undefined ? {} : { firstLine: read.firstLine }),
        ...(document ? { document } : {}),
      };
    }),
  );
  const { supergraphSdl, hints } = composeSupergraph(sdls);
  return {
    supergraph: toSupergraph(supergraphSdl),
    hints: [...notices, ...hints],
    subgraphs: sdls,
  };
}

async function readSdl(
  name: string,
  schema: ResolvedSchema,
): Promise<
  Pick<SubgraphSdl, 'sdl' | 'sourceName' | 'firstLine'> & { notice?: CompositionProblem }
> {
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
      return readRunningSdl(name, schema);
  }
}

/**
 * A running subgraph's SDL, kept on disk (`schema.sdl_cache`) each time it changes; when the
 * subgraph cannot answer, the copy kept last time, with a notice logged at load: a subgraph
 * down at start then costs its own fields, not the whole gateway.
 */
async function readRunningSdl(
  name: string,
  schema: Extract<ResolvedSchema, { kind: 'subgraph_url' }>,
): Promise<{ sdl: string; sourceName: string; notice?: CompositionProblem }> {
  const sourceName = `${name} (subgraph_url)`;
  try {
    const sdl = await introspect(name, schema.url, schema.headers);
    if (schema.cacheFile) await keepSdl(schema.cacheFile, sdl);
    return { sdl, sourceName };
  } catch (error) {
    const kept = schema.cacheFile && (await readFile(schema.cacheFile, 'utf8').catch(() => ''));
    if (!kept) throw error;
    const reason = error instanceof CompositionError ? error.problems[0]?.message : String(error);
    return {
      sdl: kept,
      sourceName: `${name} (${schema.cacheFile})`,
      notice: {
        code: 'SUBGRAPH_SDL_FROM_CACHE',
        message: `${reason}; serving the SDL it answered last, kept in ${schema.cacheFile}`,
        locations: [],
      },
    };
  }
}

/**
 * Writes the SDL beside and renames it over the kept copy when it differs (a reader never sees
 * half a file). A copy that cannot be written (a read-only directory) costs the fallback only.
 */
async function keepSdl(file: string, sdl: string): Promise<void> {
  try {
    if ((await readFile(file, 'utf8').catch(() => undefined)) === sdl) return;
    await mkdir(dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    await writeFile(temp, sdl);
    await rename(temp, file);
  } catch {
    // Nothing to do: the subgraph answered, and the graph is composed from its answer.
  }
}

/** What a subgraph answers for `{ _service { sdl } }`; a failure is a composition error. */
export async function introspect(
  name: string,
  url: string,
  headers: Readonly<Record<string, string>>,
): Promise<string> {
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
