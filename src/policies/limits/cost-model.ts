import { Kind, parse, valueFromASTUntyped, type DirectiveNode, type DocumentNode } from 'graphql';
import { createCostPlanner, type CostPlanner } from './cost-planner.ts';

/**
 * The weights and list sizes a supergraph declares with the cost spec's directives (`@cost`,
 * `@listSize` from https://specs.apollo.dev/cost/v0.1, as Apollo Federation composes them), by
 * schema coordinate. Read once per load; estimates and actual costs both weigh with it.
 */

const COST_SPEC = 'https://specs.apollo.dev/cost/';

export interface ListSize {
  assumedSize?: number;
  /** Argument paths (`first`, `input.page.first`) whose value sizes the list. */
  slicingArguments?: readonly string[];
  sizedFields?: readonly string[];
  /**
   * An operation must give exactly one slicing argument (default values count). The spec's
   * default is true; Apollo Router refuses an operation that breaks it.
   */
  requireOneSlicingArgument: boolean;
}

/** The weights and list sizes a supergraph declares, by coordinate (`Type`, `Type.field`, ...). */
export interface CostModel {
  readonly weights: ReadonlyMap<string, number>;
  readonly listSizes: ReadonlyMap<string, ListSize>;
  /** Items assumed in a list nothing sizes. */
  readonly defaultListSize: number;
  /**
   * Plans operations as Apollo Gateway does, to weigh the fetches it will send; undefined when
   * the SDL is not a supergraph (a plain schema in tests). Built on first use: a snapshot that
   * serves no GraphQL operation never pays for a second query planner.
   */
  readonly planner: () => CostPlanner | undefined;
  /**
   * Estimates that do not depend on variables, by parsed document and operation name: Apollo
   * Server reuses the document object it cached, so a repeated operation is weighed once.
   */
  readonly constant: WeakMap<DocumentNode, Map<string, number>>;
}

/**
 * Reads `@cost` and `@listSize` from a supergraph SDL, under whatever names its `@link` gives
 * them. `planSdl` is the SDL Apollo Gateway plans with (the same graph, some links rewritten),
 * so that the estimate weighs the very plan the gateway will run.
 */
export function buildCostModel(
  supergraphSdl: string,
  defaultListSize: number,
  planSdl?: string,
): CostModel {
  const document = parse(supergraphSdl, { noLocation: true });
  const names = costDirectiveNames(document);
  const weights = new Map<string, number>();
  const listSizes = new Map<string, ListSize>();
  const read = (coordinate: string, directives: readonly DirectiveNode[] | undefined) => {
    for (const directive of directives ?? []) {
      const args = Object.fromEntries(
        (directive.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value)]),
      );
      if (directive.name.value === names.cost && typeof args.weight === 'number')
        weights.set(coordinate, args.weight);
      if (directive.name.value === names.listSize) {
        const size: ListSize = {
          requireOneSlicingArgument: args.requireOneSlicingArgument !== false,
        };
        if (typeof args.assumedSize === 'number') size.assumedSize = args.assumedSize;
        if (Array.isArray(args.slicingArguments))
          size.slicingArguments = args.slicingArguments as string[];
        if (Array.isArray(args.sizedFields)) size.sizedFields = args.sizedFields as string[];
        listSizes.set(coordinate, size);
      }
    }
  };
  for (const definition of document.definitions) {
    if (!('name' in definition) || !definition.name) continue;
    const type = definition.name.value;
    if ('directives' in definition) read(type, definition.directives);
    if (!('fields' in definition)) continue;
    for (const field of definition.fields ?? []) {
      const coordinate = `${type}.${field.name.value}`;
      read(coordinate, field.directives);
      if ('arguments' in field)
        for (const argument of field.arguments ?? [])
          read(`${coordinate}(${argument.name.value}:)`, argument.directives);
    }
  }
  const isSupergraph = document.definitions.some(
    (d) => d.kind === Kind.ENUM_TYPE_DEFINITION && d.name.value === 'join__Graph',
  );
  let planner: CostPlanner | undefined;
  return {
    weights,
    listSizes,
    defaultListSize,
    planner: () => {
      if (isSupergraph) planner ??= createCostPlanner(planSdl ?? supergraphSdl);
      return planner;
    },
    constant: new WeakMap(),
  };
}

/** The local names of the cost spec's directives: `@link(as:)` and `import` can rename them. */
function costDirectiveNames(document: DocumentNode): { cost: string; listSize: string } {
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION && definition.kind !== Kind.SCHEMA_EXTENSION)
      continue;
    for (const link of definition.directives ?? []) {
      const args = Object.fromEntries(
        (link.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value)]),
      );
      if (link.name.value !== 'link' || !String(args.url ?? '').startsWith(COST_SPEC)) continue;
      const prefix = typeof args.as === 'string' ? args.as : 'cost';
      const imported = new Map<string, string>();
      for (const entry of (args.import as unknown[] | undefined) ?? []) {
        if (typeof entry === 'string') imported.set(entry, entry);
        else if (entry && typeof entry === 'object' && 'name' in entry)
          imported.set(String(entry.name), String((entry as { as?: unknown }).as ?? entry.name));
      }
      const local = (name: string) => imported.get(`@${name}`)?.slice(1);
      return {
        // The directive named like the spec is the spec's own: `@cost` unless renamed.
        cost: local('cost') ?? prefix,
        listSize: local('listSize') ?? `${prefix}__listSize`,
      };
    }
  }
  return { cost: 'cost', listSize: 'listSize' };
}
