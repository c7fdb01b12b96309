import { errorCauses, Supergraph } from '@apollo/federation-internals';
import {
  getLocation,
  GraphQLError,
  Kind,
  parse,
  Source,
  type ASTNode,
  type ConstDirectiveNode,
  type DefinitionNode,
  type DocumentNode,
  type FieldDefinitionNode,
  type InputValueDefinitionNode,
  type TypeNode,
} from 'graphql';
import type { CompositionProblem } from './compose.ts';

/** Which `@tag` names a contract keeps (`include`) and hides (`exclude`); exclude wins. */
export interface ContractFilter {
  include?: readonly string[];
  exclude?: readonly string[];
}

export type ContractResult =
  | { ok: true; supergraphSdl: string; hidden: readonly string[] }
  | { ok: false; problems: CompositionProblem[] };

const INACCESSIBLE_SPEC = 'https://specs.apollo.dev/inaccessible/v0.2';
const TAG_SPEC = 'https://specs.apollo.dev/tag/';
const INACCESSIBLE_LOCATIONS =
  'FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION';

/**
 * Builds a client's contract: the supergraph with `@inaccessible` on every element the filter
 * hides, following Apollo's contract rules (docs "Contract Reference"). It stays a supergraph, so
 * Apollo Gateway serves it as is and removes the hidden elements from the API schema itself; the
 * query planner still sees them (a @requires or @key may need a hidden field).
 *
 * The directives are spliced into the original text on the lines they belong to, so every line
 * number of the contract is the supergraph's: problems point into the file the operator has.
 */
export function buildContract(
  supergraphSdl: string,
  filter: ContractFilter,
  sourceName = 'supergraph.graphql',
): ContractResult {
  const document = parse(new Source(supergraphSdl, sourceName));
  const names = specNames(document);
  const hidden = selectHidden(document, filter, names.tag);

  const query = rootTypeNames(document).query;
  const queryType = hidden.types.get(query);
  if (queryType) {
    return {
      ok: false,
      problems: [
        {
          code: 'CONTRACT_EMPTY',
          message: `the filter ${describe(filter)} hides every field of ${query}: the contract would have no query root`,
          locations: [where(queryType)],
        },
      ],
    };
  }

  const sdl = splice(supergraphSdl, document, hidden, names.inaccessible);
  const problems = validate(sdl, sourceName);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, supergraphSdl: sdl, hidden: [...hidden.coordinates()].sort() };
}

/** What the supergraph calls `@tag` and `@inaccessible` (a `@link` may rename them with `as:`). */
function specNames(document: DocumentNode) {
  let tag = 'tag';
  let inaccessible: { name: string; linked: boolean } = { name: 'inaccessible', linked: false };
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION && definition.kind !== Kind.SCHEMA_EXTENSION) {
      continue;
    }
    for (const directive of definition.directives ?? []) {
      if (directive.name.value !== 'link') continue;
      const url = stringArgument(directive, 'url') ?? '';
      const as = stringArgument(directive, 'as');
      if (url.startsWith(TAG_SPEC)) tag = as ?? 'tag';
      if (url.startsWith('https://specs.apollo.dev/inaccessible/')) {
        inaccessible = { name: as ?? 'inaccessible', linked: true };
      }
    }
  }
  return { tag, inaccessible };
}

type Named = Extract<DefinitionNode, { name: { value: string } }> & {
  directives?: readonly ConstDirectiveNode[];
};

/** The hidden elements, by kind, keyed by schema coordinate (`Type`, `Type.field`, `Type.field(arg:)`). */
class Hidden {
  readonly types = new Map<string, ASTNode>();
  readonly members = new Map<string, ASTNode>();
  has(coordinate: string) {
    return this.types.has(coordinate) || this.members.has(coordinate);
  }
  coordinates() {
    return [...this.types.keys(), ...this.members.keys()];
  }
}

/**
 * Apollo's rules, in order:
 * 1. An element tagged with an excluded tag is hidden. A tag on an object or interface type counts
 *    as a tag on each of its fields; an argument without tags of its own follows its field.
 * 2. With an include list, object and interface fields and union types without an included tag are
 *    hidden; an object or interface type stays as long as one of its fields does. Enums, inputs,
 *    scalars and their values are filtered by exclusion only (Apollo applies include to
 *    output fields and unions), and arguments with tags of their own need an included one.
 * 3. Until nothing changes: a field, argument or input field whose type is hidden is hidden; a
 *    type whose fields, values or members are all hidden is hidden.
 * A required argument or input field that ends hidden is left to validation, which reports
 * REQUIRED_INACCESSIBLE as Apollo does.
 */
function selectHidden(document: DocumentNode, filter: ContractFilter, tagName: string): Hidden {
  const include = new Set(filter.include ?? []);
  const exclude = new Set(filter.exclude ?? []);
  const tagsOf = (node: { directives?: readonly ConstDirectiveNode[] }) =>
    (node.directives ?? [])
      .filter((d) => d.name.value === tagName)
      .map((d) => stringArgument(d, 'name'))
      .filter((name): name is string => name !== undefined);
  const excluded = (tags: string[]) => tags.some((t) => exclude.has(t));
  const notIncluded = (tags: string[]) => include.size > 0 && !tags.some((t) => include.has(t));

  const hidden = new Hidden();
  const types = document.definitions.filter(isFilterable);

  for (const type of types) {
    const typeTags = tagsOf(type);
    if (excluded(typeTags)) hidden.types.set(type.name.value, type);
    if (type.kind === Kind.UNION_TYPE_DEFINITION && notIncluded(typeTags)) {
      hidden.types.set(type.name.value, type);
    }
    for (const field of fieldsOf(type)) {
      const coordinate = `${type.name.value}.${field.name.value}`;
      const fieldTags = [...typeTags, ...tagsOf(field)];
      if (excluded(fieldTags) || notIncluded(fieldTags)) hidden.members.set(coordinate, field);
      for (const argument of field.arguments ?? []) {
        const own = tagsOf(argument);
        if (excluded(own) || (own.length > 0 && notIncluded(own))) {
          hidden.members.set(`${coordinate}(${argument.name.value}:)`, argument);
        }
      }
    }
    if (type.kind === Kind.ENUM_TYPE_DEFINITION) {
      for (const value of type.values ?? []) {
        if (excluded(tagsOf(value)))
          hidden.members.set(`${type.name.value}.${value.name.value}`, value);
      }
    }
    if (type.kind === Kind.INPUT_OBJECT_TYPE_DEFINITION) {
      for (const field of type.fields ?? []) {
        if (excluded(tagsOf(field)))
          hidden.members.set(`${type.name.value}.${field.name.value}`, field);
      }
    }
  }

  for (let changed = true; changed;) {
    changed = false;
    const hide = (map: Map<string, ASTNode>, coordinate: string, node: ASTNode) => {
      if (hidden.has(coordinate)) return;
      map.set(coordinate, node);
      changed = true;
    };
    for (const type of types) {
      const name = type.name.value;
      if (hidden.types.has(name)) continue;
      let children: { coordinate: string; node: ASTNode; type?: TypeNode }[] = [];
      if (
        type.kind === Kind.OBJECT_TYPE_DEFINITION ||
        type.kind === Kind.INTERFACE_TYPE_DEFINITION
      ) {
        children = fieldsOf(type).map((f) => ({
          coordinate: `${name}.${f.name.value}`,
          node: f,
          type: f.type,
        }));
        for (const field of fieldsOf(type)) {
          for (const argument of field.arguments ?? []) {
            const coordinate = `${name}.${field.name.value}(${argument.name.value}:)`;
            if (hidden.types.has(namedType(argument.type)))
              hide(hidden.members, coordinate, argument);
          }
        }
      } else if (type.kind === Kind.INPUT_OBJECT_TYPE_DEFINITION) {
        children = (type.fields ?? []).map((f) => ({
          coordinate: `${name}.${f.name.value}`,
          node: f,
          type: f.type,
        }));
      } else if (type.kind === Kind.ENUM_TYPE_DEFINITION) {
        children = (type.values ?? []).map((v) => ({
          coordinate: `${name}.${v.name.value}`,
          node: v,
        }));
      } else if (type.kind === Kind.UNION_TYPE_DEFINITION) {
        children = (type.types ?? []).map((m) => ({ coordinate: m.name.value, node: m }));
      }
      for (const child of children) {
        if (child.type && hidden.types.has(namedType(child.type))) {
          hide(hidden.members, child.coordinate, child.node);
        }
      }
      const emptied = children.length > 0 && children.every((c) => hidden.has(c.coordinate));
      // An emptied query root is hidden too: buildContract reports it as an empty contract.
      if (emptied) hide(hidden.types, name, type);
    }
  }
  return hidden;
}

/** Types a contract filters: the schema's own, not the join__/link__ machinery of the supergraph. */
function isFilterable(definition: DefinitionNode): definition is Named {
  if (!('name' in definition) || !definition.name) return false;
  if (definition.kind === Kind.DIRECTIVE_DEFINITION) return false;
  if (!definition.kind.endsWith('TypeDefinition')) return false;
  return !/^(join|link|inaccessible|tag)__/.test(definition.name.value);
}

function fieldsOf(type: Named): readonly FieldDefinitionNode[] {
  if (type.kind === Kind.OBJECT_TYPE_DEFINITION || type.kind === Kind.INTERFACE_TYPE_DEFINITION) {
    return type.fields ?? [];
  }
  return [];
}

function rootTypeNames(document: DocumentNode) {
  const roots = { query: 'Query', mutation: 'Mutation', subscription: 'Subscription' };
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION) continue;
    for (const operation of definition.operationTypes) {
      roots[operation.operation] = operation.type.name.value;
    }
  }
  return roots;
}

/**
 * Adds `@inaccessible` to each hidden element, in place: after a type's name (and interfaces), a
 * field's type, an argument's default, an enum value's name; the spec's `@link` after the schema's
 * last directive and its definition at the end when the supergraph lacks them. Insertions go from
 * the end backwards so earlier offsets stay valid; none adds a line before existing text.
 */
function splice(
  sdl: string,
  document: DocumentNode,
  hidden: Hidden,
  inaccessible: { name: string; linked: boolean },
): string {
  const directive = ` @${inaccessible.name}`;
  const insertions: { at: number; text: string }[] = [];
  for (const node of [...hidden.types.values(), ...hidden.members.values()]) {
    if (!node.loc || hasDirective(node, inaccessible.name)) continue;
    insertions.push({ at: insertionPoint(node), text: directive });
  }
  let tail = '';
  if (!inaccessible.linked) {
    const schema = document.definitions.find((d) => d.kind === Kind.SCHEMA_DEFINITION);
    const last = schema?.directives?.at(-1);
    if (!schema?.loc || !last?.loc) throw new Error('not a supergraph: no schema @link directives');
    insertions.push({
      at: last.loc.end,
      text: ` @link(url: "${INACCESSIBLE_SPEC}", for: SECURITY)`,
    });
    tail = `\ndirective @inaccessible on ${INACCESSIBLE_LOCATIONS}\n`;
  }
  let out = sdl;
  for (const { at, text } of insertions.sort((a, b) => b.at - a.at)) {
    out = out.slice(0, at) + text + out.slice(at);
  }
  return out + tail;
}

function insertionPoint(node: ASTNode): number {
  const end = (n: { loc?: { end: number } } | undefined) => n?.loc?.end ?? 0;
  switch (node.kind) {
    case Kind.FIELD_DEFINITION:
      return end(node.type);
    case Kind.INPUT_VALUE_DEFINITION:
      return end((node as InputValueDefinitionNode).defaultValue ?? node.type);
    case Kind.OBJECT_TYPE_DEFINITION:
    case Kind.INTERFACE_TYPE_DEFINITION:
      return end(node.interfaces?.at(-1) ?? node.name);
    case Kind.ENUM_VALUE_DEFINITION:
    case Kind.UNION_TYPE_DEFINITION:
    case Kind.ENUM_TYPE_DEFINITION:
    case Kind.INPUT_OBJECT_TYPE_DEFINITION:
    case Kind.SCALAR_TYPE_DEFINITION:
      return end(node.name);
    default:
      throw new Error(`cannot hide a ${node.kind}`);
  }
}

/**
 * Checks the contract the way Apollo Gateway will load it: build the supergraph and its API schema
 * (which removes the @inaccessible elements and rejects, e.g., a hidden required argument).
 */
function validate(sdl: string, sourceName: string): CompositionProblem[] {
  try {
    Supergraph.build(parse(new Source(sdl, sourceName))).apiSchema();
    return [];
  } catch (error) {
    const causes = errorCauses(error as Error) ?? [error];
    return causes.map((cause) => {
      if (!(cause instanceof GraphQLError)) {
        return { code: 'CONTRACT_INVALID', message: String(cause), locations: [] };
      }
      const code =
        typeof cause.extensions.code === 'string' ? cause.extensions.code : 'CONTRACT_INVALID';
      return {
        code,
        message: cause.message,
        locations: (cause.nodes ?? []).filter((n) => n.loc).map(where),
      };
    });
  }
}

function where(node: ASTNode): string {
  if (!node.loc) return '';
  const { line, column } = getLocation(node.loc.source, node.loc.start);
  return `${node.loc.source.name}:${line}:${column}`;
}

function hasDirective(node: ASTNode, name: string): boolean {
  const directives = (node as { directives?: readonly ConstDirectiveNode[] }).directives ?? [];
  return directives.some((d) => d.name.value === name);
}

function namedType(type: TypeNode): string {
  return type.kind === Kind.NAMED_TYPE ? type.name.value : namedType(type.type);
}

function stringArgument(directive: ConstDirectiveNode, name: string): string | undefined {
  const value = directive.arguments?.find((a) => a.name.value === name)?.value;
  return value?.kind === Kind.STRING ? value.value : undefined;
}

function describe(filter: ContractFilter): string {
  const list = (key: string, tags: readonly string[] | undefined) =>
    tags?.length ? [`${key} [${tags.join(', ')}]`] : [];
  return [...list('include', filter.include), ...list('exclude', filter.exclude)].join(', ');
}
