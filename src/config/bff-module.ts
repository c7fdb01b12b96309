import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Kind, parse, type DefinitionNode } from 'graphql';

const require = createRequire(import.meta.url);

/** A BFF subgraph's resolver map as its module exports it: fields by type name. */
export type ResolverMap = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

/** A resolvers module, imported: where it is and what it exports. */
export interface BffModule {
  /** Absolute path: hot reload watches it. */
  readonly file: string;
  readonly resolvers: ResolverMap;
}

/**
 * Imports a BFF subgraph's resolvers module (TypeScript runs as the gateway does: Node's type
 * stripping, or tsx's loader on Node 20). The file's modification time and size go in the URL's
 * query, so an edited module is a new module to Node's ESM cache and a reload picks it up, while
 * an unchanged one is not evaluated again (CommonJS modules are dropped from `require.cache` for
 * the same end). Only the module itself is re-imported: what it imports
 * stays cached, and every edited version stays in memory until the process ends (ESM modules are
 * never unloaded). Returns the problem as text when the module cannot be used.
 */
export async function importBffModule(file: string): Promise<BffModule | string> {
  let version: string;
  try {
    const stats = await stat(file);
    version = `${stats.mtimeMs}-${stats.size}`;
  } catch (error) {
    return `cannot read (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`;
  }
  let exported: Record<string, unknown>;
  // A module Node reads as CommonJS (no `"type": "module"` above it) is cached by its path
  // whatever the URL's query: forgotten here, it is evaluated again.
  delete require.cache[file];
  try {
    exported = (await import(`${pathToFileURL(file).href}?v=${version}`)) as Record<
      string,
      unknown
    >;
  } catch (error) {
    return `cannot import: ${(error as Error).message.split('\n')[0]}`;
  }
  const { resolvers } = exported;
  if (!isRecord(resolvers))
    return 'exports no `resolvers` object (export const resolvers = { Query: { ... } })';
  for (const [type, fields] of Object.entries(resolvers))
    if (!isRecord(fields)) return `resolvers.${type} is not an object of field resolvers`;
  return { file, resolvers: resolvers as ResolverMap };
}

/**
 * What does not match between a resolver map and the SDL it serves: a type or field the SDL does
 * not define (a typo would otherwise resolve nothing, silently), and a Query or Mutation field
 * without a resolver (it could only ever be null). Scalars and enums given as values are
 * buildSubgraphSchema's to check.
 */
export function checkResolvers(resolvers: ResolverMap, sdl: string): string[] {
  const fields = new Map<string, Set<string> | undefined>();
  for (const definition of parse(sdl).definitions) {
    const named = typeOf(definition);
    if (!named) continue;
    const known = fields.get(named.name) ?? named.fields;
    if (known && named.fields) for (const field of named.fields) known.add(field);
    fields.set(named.name, known);
  }
  const problems: string[] = [];
  for (const [type, map] of Object.entries(resolvers)) {
    if (!fields.has(type)) {
      problems.push(`resolvers.${type}: the schema has no type ${type}`);
      continue;
    }
    const known = fields.get(type);
    if (!known) continue;
    for (const field of Object.keys(map))
      if (!field.startsWith('__') && !known.has(field))
        problems.push(`resolvers.${type}.${field}: ${type} has no field ${field}`);
  }
  for (const root of ['Query', 'Mutation'])
    for (const field of fields.get(root) ?? [])
      if (resolvers[root]?.[field] === undefined)
        problems.push(`resolvers.${root}.${field}: missing (the field could only be null)`);
  return problems;
}

/** A type definition or extension: its name and, for object and interface types, its fields. */
function typeOf(definition: DefinitionNode): { name: string; fields?: Set<string> } | undefined {
  switch (definition.kind) {
    case Kind.OBJECT_TYPE_DEFINITION:
    case Kind.OBJECT_TYPE_EXTENSION:
    case Kind.INTERFACE_TYPE_DEFINITION:
    case Kind.INTERFACE_TYPE_EXTENSION:
      return {
        name: definition.name.value,
        fields: new Set((definition.fields ?? []).map((f) => f.name.value)),
      };
    case Kind.UNION_TYPE_DEFINITION:
    case Kind.SCALAR_TYPE_DEFINITION:
    case Kind.ENUM_TYPE_DEFINITION:
      return { name: definition.name.value };
    default:
      return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
