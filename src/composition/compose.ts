import { composeServices } from '@apollo/composition';
import { getLocation, GraphQLError, parse, Source, type ASTNode, type DocumentNode } from 'graphql';

/** One subgraph's SDL and where it came from, for composition and its error locations. */
export interface SubgraphSdl {
  name: string;
  url: string;
  sdl: string;
  /** Shown in locations: the schema file, or the config file for inline SDL. */
  sourceName: string;
  /** 1-based line of the SDL's first line in `sourceName` (inline SDL sits inside the config). */
  firstLine?: number;
  /** Already parsed (an adapter's SDL with its directives stripped); `sdl` is then not parsed again. */
  document?: DocumentNode;
}

export interface CompositionProblem {
  code: string;
  message: string;
  /** `file:line:column (subgraph name)` for every node the problem names. */
  locations: string[];
}

export interface Composed {
  supergraphSdl: string;
  hints: CompositionProblem[];
}

/** Composition failed: every error at once, each with its code and subgraph locations. */
export class CompositionError extends Error {
  readonly problems: readonly CompositionProblem[];

  constructor(problems: CompositionProblem[]) {
    super(
      `composition failed with ${problems.length} error${problems.length === 1 ? '' : 's'}:\n` +
        problems.map(formatProblem).join('\n'),
    );
    this.name = 'CompositionError';
    this.problems = problems;
  }
}

export function formatProblem(problem: CompositionProblem): string {
  const where = problem.locations.map((l) => `\n    at ${l}`).join('');
  return `  ${problem.code}: ${problem.message}${where}`;
}

/**
 * Composes subgraphs into a supergraph with @apollo/composition, locally: no network, no rover.
 * Each SDL is parsed with its file as the GraphQL `Source` so that syntax errors and composition
 * errors point at `file:line:column` and name the subgraph.
 */
export function composeSupergraph(subgraphs: readonly SubgraphSdl[]): Composed {
  const subgraphBySource = new Map<string, string>();
  const problems: CompositionProblem[] = [];
  const services = [];
  for (const subgraph of subgraphs) {
    const source = new Source(subgraph.sdl, subgraph.sourceName, {
      line: subgraph.firstLine ?? 1,
      column: 1,
    });
    subgraphBySource.set(subgraph.sourceName, subgraph.name);
    try {
      services.push({
        name: subgraph.name,
        url: subgraph.url,
        typeDefs: subgraph.document ?? parse(source),
      });
    } catch (error) {
      problems.push(toProblem(error, subgraphBySource, 'GRAPHQL_PARSE_FAILED'));
    }
  }
  if (problems.length > 0) throw new CompositionError(problems);

  const result = composeServices(services);
  if (result.errors) {
    throw new CompositionError(result.errors.map((e) => toProblem(e, subgraphBySource)));
  }
  return {
    supergraphSdl: result.supergraphSdl,
    hints: result.hints.map((hint) => ({
      code: hint.definition.code,
      message: hint.message,
      locations: locate(hint.nodes ?? [], subgraphBySource),
    })),
  };
}

function toProblem(
  error: unknown,
  subgraphBySource: ReadonlyMap<string, string>,
  fallbackCode = 'COMPOSITION_FAILED',
): CompositionProblem {
  if (!(error instanceof GraphQLError)) {
    return { code: fallbackCode, message: String(error), locations: [] };
  }
  const code = typeof error.extensions.code === 'string' ? error.extensions.code : fallbackCode;
  const nodes: readonly ASTNode[] = error.nodes ?? [];
  let locations = locate(nodes, subgraphBySource);
  // Syntax errors carry a source and positions instead of nodes.
  if (locations.length === 0 && error.source && error.positions) {
    const source = error.source;
    locations = error.positions.map((p) => at(source, p, subgraphBySource));
  }
  return { code, message: error.message, locations };
}

function locate(
  nodes: readonly ASTNode[],
  subgraphBySource: ReadonlyMap<string, string>,
): string[] {
  const locations: string[] = [];
  for (const node of nodes) {
    if (node.loc) locations.push(at(node.loc.source, node.loc.start, subgraphBySource));
  }
  return [...new Set(locations)];
}

function at(source: Source, position: number, subgraphBySource: ReadonlyMap<string, string>) {
  const { line, column } = getLocation(source, position);
  const subgraph = subgraphBySource.get(source.name);
  const fileLine = line + source.locationOffset.line - 1;
  return `${source.name}:${fileLine}:${column}${subgraph ? ` (subgraph ${subgraph})` : ''}`;
}
