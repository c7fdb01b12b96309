import {
  isTypeDefinitionNode,
  isTypeExtensionNode,
  Kind,
  parse,
  valueFromASTUntyped,
  type DirectiveNode,
  type DocumentNode,
  type TypeNode,
} from 'graphql';
import type { Identity } from '../../kernel/context.ts';

/**
 * Field authorization requirements as Apollo Federation composes them into a supergraph and as
 * Apollo Router enforces them (https://www.apollographql.com/docs/graphos/routing/security/authorization):
 *
 * - `@authenticated`: any verified caller;
 * - `@requiresScopes(scopes: [["a", "b"], ["c"]])`: the caller's scopes include a and b, or c
 *   (an OR of AND lists);
 * - `@policy(policies: [["p", "q"], ["r"]])`: the same shape over named policies, each decided by
 *   a rule of the config (`PolicyRule`).
 *
 * On fields, objects, interfaces, scalars and enums. A directive on a type applies to every field
 * returning that type and to each of the type's own fields; a field needs everything that
 * applies to it. The model is read once per load, like the cost model; `authorize.ts` checks
 * operations against it.
 */

/** The versions of the specs this gateway enforces; another version is refused at load. */
const SPECS = {
  authenticated: 'https://specs.apollo.dev/authenticated/v0.1',
  requiresScopes: 'https://specs.apollo.dev/requiresScopes/v0.1',
  policy: 'https://specs.apollo.dev/policy/v0.1',
} as const;
type Spec = keyof typeof SPECS;
const SPEC_NAMES = Object.keys(SPECS) as Spec[];

type ClaimValue = string | number | boolean;

/**
 * What one named `@policy` asks of the caller. Every condition given must hold; a rule with none
 * holds for any verified caller. No rule holds for an anonymous request.
 */
export interface PolicyRule {
  /** Scopes the caller must all have. */
  scopes?: readonly string[];
  /**
   * Claims by name (top-level claims of the verified token or introspection answer): the claim
   * equals the value, or is one of the values given as a list; a claim that is a list holds
   * when it contains the value (or one of them). Values compare strictly: "1" is not 1.
   */
  claims?: Readonly<Record<string, ClaimValue | readonly ClaimValue[]>>;
  /** The caller's client id is one of these. */
  clientIds?: readonly string[];
}

/** An OR of AND lists, as `@requiresScopes` and `@policy` take them. */
export type AnyOfAll = readonly (readonly string[])[];

/** Everything one field needs; each part must hold. */
export interface Requirement {
  readonly authenticated: boolean;
  /** One entry per `@requiresScopes` that applies: each must hold. */
  readonly scopes: readonly AnyOfAll[];
  /** One entry per `@policy` that applies: each must hold. */
  readonly policies: readonly AnyOfAll[];
}

export interface AuthModel {
  /**
   * What each guarded field needs, by coordinate (`User.email`), with type-level requirements
   * folded in; a field that is not here needs nothing. Fields with equal requirements share one
   * object, so a check can be remembered per requirement.
   */
  readonly fields: ReadonlyMap<string, Requirement>;
  /** The rules `@policy` names are decided by. */
  readonly policies: ReadonlyMap<string, PolicyRule>;
}

export interface AuthModelBuild {
  readonly model: AuthModel;
  /** What the load should report: policy names no rule defines (they deny). */
  readonly warnings: readonly string[];
}

/** A supergraph links a spec version this gateway does not enforce: it refuses to serve it. */
export class UnsupportedAuthSpecError extends Error {}

interface TypeInfo {
  kind: 'object' | 'interface' | 'other';
  directives: DirectiveNode[];
  interfaces: string[];
  fields: Map<string, { directives: DirectiveNode[]; returns: string }>;
}

const NONE: Requirement = { authenticated: false, scopes: [], policies: [] };

/** Reads the requirements of a supergraph SDL, under whatever names its `@link`s give them. */
export function buildAuthModel(
  supergraphSdl: string,
  policies: ReadonlyMap<string, PolicyRule>,
): AuthModelBuild {
  const document = parse(supergraphSdl, { noLocation: true });
  const names = linkedNames(document);
  if (names.size === 0) return { model: { fields: new Map(), policies }, warnings: [] };

  const types = new Map<string, TypeInfo>();
  for (const definition of document.definitions) {
    if (!isTypeDefinitionNode(definition) && !isTypeExtensionNode(definition)) continue;
    const kind =
      definition.kind === Kind.OBJECT_TYPE_DEFINITION ||
      definition.kind === Kind.OBJECT_TYPE_EXTENSION
        ? 'object'
        : definition.kind === Kind.INTERFACE_TYPE_DEFINITION ||
            definition.kind === Kind.INTERFACE_TYPE_EXTENSION
          ? 'interface'
          : 'other';
    let info = types.get(definition.name.value);
    if (!info) {
      info = { kind, directives: [], interfaces: [], fields: new Map() };
      types.set(definition.name.value, info);
    }
    info.directives.push(...(definition.directives ?? []));
    if ('interfaces' in definition)
      info.interfaces.push(...(definition.interfaces ?? []).map((i) => i.name.value));
    if (kind === 'other' || !('fields' in definition)) continue;
    for (const field of definition.fields ?? []) {
      if (field.kind !== Kind.FIELD_DEFINITION) continue;
      info.fields.set(field.name.value, {
        directives: [...(field.directives ?? [])],
        returns: namedType(field.type),
      });
    }
  }

  const interned = new Map<string, Requirement>();
  const policyUses = new Map<string, string[]>();
  const read = (coordinate: string, directives: readonly DirectiveNode[]): Requirement => {
    let requirement = NONE;
    for (const directive of directives) {
      const spec = names.get(directive.name.value);
      if (!spec) continue;
      if (spec === 'authenticated') {
        requirement = both(requirement, { authenticated: true, scopes: [], policies: [] });
        continue;
      }
      const argument = directive.arguments?.find(
        (a) => a.name.value === (spec === 'requiresScopes' ? 'scopes' : 'policies'),
      );
      const lists = anyOfAll(argument ? valueFromASTUntyped(argument.value) : []);
      if (spec === 'requiresScopes') {
        requirement = both(requirement, { authenticated: false, scopes: [lists], policies: [] });
      } else {
        requirement = both(requirement, { authenticated: false, scopes: [], policies: [lists] });
        for (const name of lists.flat())
          policyUses.set(name, [...(policyUses.get(name) ?? []), coordinate]);
      }
    }
    return requirement;
  };

  const typeLevel = new Map<string, Requirement>();
  for (const [name, info] of types) typeLevel.set(name, read(name, info.directives));
  // An interface needs what each implementation needs (see below for why).
  for (const [typeName, info] of types) {
    const own = typeLevel.get(typeName) ?? NONE;
    if (info.kind !== 'object' || own === NONE) continue;
    for (const name of info.interfaces)
      if (types.has(name)) typeLevel.set(name, both(typeLevel.get(name) ?? NONE, own));
  }
  const ofType = (name: string) => typeLevel.get(name) ?? NONE;

  const effective = new Map<string, Requirement>();
  for (const [typeName, info] of types) {
    if (info.kind === 'other') continue;
    for (const [fieldName, field] of info.fields) {
      const coordinate = `${typeName}.${fieldName}`;
      effective.set(
        coordinate,
        both(both(read(coordinate, field.directives), ofType(typeName)), ofType(field.returns)),
      );
    }
  }
  // Interfaces and their implementations: a field selected through an interface may resolve on
  // any implementation, and which one is known only once the backend answered, after planning.
  // So reading `Node.secret` needs what every implementation's `secret` needs (the AND of them),
  // and reading it through `... on Pub { secret }` needs only what `Pub.secret` needs. This is
  // also what composition writes into the supergraph since Federation 2.9.4 (it refuses the
  // directives on interfaces in subgraphs and copies the implementations' onto the interface);
  // doing it again here holds a supergraph composed by an older composer to the same rule.
  for (const [typeName, info] of types) {
    if (info.kind !== 'object') continue;
    for (const interfaceName of info.interfaces) {
      const implemented = types.get(interfaceName);
      if (!implemented) continue;
      for (const fieldName of implemented.fields.keys()) {
        const coordinate = `${interfaceName}.${fieldName}`;
        const own = effective.get(`${typeName}.${fieldName}`);
        if (own) effective.set(coordinate, both(effective.get(coordinate) ?? NONE, own));
      }
    }
  }

  const fields = new Map<string, Requirement>();
  for (const [coordinate, requirement] of effective) {
    if (requirement === NONE || isEmpty(requirement)) continue;
    const key = JSON.stringify(requirement);
    let shared = interned.get(key);
    if (!shared) interned.set(key, (shared = requirement));
    fields.set(coordinate, shared);
  }

  const warnings: string[] = [];
  for (const [name, coordinates] of policyUses) {
    if (policies.has(name)) continue;
    const where = [...new Set(coordinates)];
    warnings.push(
      `@policy "${name}" (on ${where.slice(0, 5).join(', ')}${where.length > 5 ? ', ...' : ''}) names no policy rule: what needs it is denied to every caller`,
    );
  }
  return { model: { fields, policies }, warnings };
}

/**
 * Whether `identity` (undefined: an anonymous request) may read a field that needs
 * `requirement`. An anonymous request has no scopes and satisfies no policy.
 */
export function allows(
  model: AuthModel,
  requirement: Requirement,
  identity: Identity | undefined,
): boolean {
  if (requirement.authenticated && !identity) return false;
  for (const lists of requirement.scopes) {
    if (!lists.some((all) => all.every((scope) => identity?.scopes.includes(scope) === true)))
      return false;
  }
  for (const lists of requirement.policies) {
    if (
      !lists.some((all) =>
        all.every((name) => {
          const rule = model.policies.get(name);
          return rule !== undefined && identity !== undefined && satisfies(rule, identity);
        }),
      )
    )
      return false;
  }
  return true;
}

/** Whether a verified caller satisfies one policy rule: every condition it gives. */
export function satisfies(rule: PolicyRule, identity: Identity): boolean {
  if (rule.scopes && !rule.scopes.every((scope) => identity.scopes.includes(scope))) return false;
  if (
    rule.clientIds &&
    (identity.clientId === undefined || !rule.clientIds.includes(identity.clientId))
  )
    return false;
  for (const [name, expected] of Object.entries(rule.claims ?? {})) {
    const actual = identity.claims[name];
    const wanted: readonly unknown[] = Array.isArray(expected) ? expected : [expected];
    const held: readonly unknown[] = Array.isArray(actual) ? actual : [actual];
    if (!wanted.some((value) => held.includes(value))) return false;
  }
  return true;
}

/**
 * The supergraph as Apollo Gateway loads it. A supergraph links these specs `for: SECURITY`,
 * which asks any router that does not enforce them to refuse the whole supergraph rather than
 * serve it unguarded (https://specs.apollo.dev/link/v1.0/#Purpose); Apollo Gateway does not
 * enforce them, so it refuses. This gateway enforces them before Apollo Gateway plans (the
 * `authorize` stage), so it hands Apollo Gateway the same SDL with the purpose of just those
 * links taken out. Any other feature `for: SECURITY` or `for: EXECUTION` still makes Apollo
 * Gateway refuse, and so does another version of these (`buildAuthModel` refuses it too).
 */
export function sdlForApolloGateway(supergraphSdl: string): string {
  if (!/\bfor\s*:\s*SECURITY\b/.test(supergraphSdl)) return supergraphSdl;
  const document = parse(supergraphSdl);
  const cuts: { start: number; end: number }[] = [];
  for (const link of schemaLinks(document)) {
    if (!(SPEC_NAMES as string[]).some((spec) => SPECS[spec as Spec] === link.url)) continue;
    const purpose = link.directive.arguments?.find((a) => a.name.value === 'for');
    if (purpose?.loc) cuts.push({ start: purpose.loc.start, end: purpose.loc.end });
  }
  let sdl = supergraphSdl;
  // From the end, so earlier offsets stay valid. A comma left behind is insignificant in GraphQL.
  for (const cut of cuts.sort((a, b) => b.start - a.start))
    sdl = sdl.slice(0, cut.start) + sdl.slice(cut.end);
  return sdl;
}

/** The local directive name of each enforced spec that the supergraph links. */
function linkedNames(document: DocumentNode): Map<string, Spec> {
  const names = new Map<string, Spec>();
  for (const link of schemaLinks(document)) {
    const spec = SPEC_NAMES.find((name) =>
      link.url.startsWith(`https://specs.apollo.dev/${name}/`),
    );
    if (!spec) continue;
    if (link.url !== SPECS[spec])
      throw new UnsupportedAuthSpecError(
        `the supergraph links ${link.url}; this gateway enforces ${SPECS[spec]} only`,
      );
    // The directive named like the spec is the spec's own: `@authenticated` unless renamed by
    // `as:` or by an import.
    const imported = link.imports.get(`@${spec}`);
    names.set(imported ? imported.slice(1) : (link.as ?? spec), spec);
  }
  return names;
}

interface Link {
  url: string;
  as: string | undefined;
  imports: Map<string, string>;
  directive: DirectiveNode;
}

function schemaLinks(document: DocumentNode): Link[] {
  const links: Link[] = [];
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION && definition.kind !== Kind.SCHEMA_EXTENSION)
      continue;
    for (const directive of definition.directives ?? []) {
      if (directive.name.value !== 'link') continue;
      const args = Object.fromEntries(
        (directive.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value)]),
      );
      if (typeof args.url !== 'string') continue;
      const imports = new Map<string, string>();
      for (const entry of (args.import as unknown[] | undefined) ?? []) {
        if (typeof entry === 'string') imports.set(entry, entry);
        else if (entry && typeof entry === 'object' && 'name' in entry)
          imports.set(String(entry.name), String((entry as { as?: unknown }).as ?? entry.name));
      }
      links.push({
        url: args.url,
        as: typeof args.as === 'string' ? args.as : undefined,
        imports,
        directive,
      });
    }
  }
  return links;
}

/** Both requirements at once: every part of each. */
function both(a: Requirement, b: Requirement): Requirement {
  if (b === NONE || isEmpty(b)) return a;
  if (a === NONE || isEmpty(a)) return b;
  return {
    authenticated: a.authenticated || b.authenticated,
    scopes: distinct([...a.scopes, ...b.scopes]),
    policies: distinct([...a.policies, ...b.policies]),
  };
}

function isEmpty(requirement: Requirement): boolean {
  return (
    !requirement.authenticated &&
    requirement.scopes.length === 0 &&
    requirement.policies.length === 0
  );
}

/** The same OR of AND lists once: two directives asking the same thing are one requirement. */
function distinct(lists: readonly AnyOfAll[]): AnyOfAll[] {
  const seen = new Map<string, AnyOfAll>();
  for (const list of lists) seen.set(JSON.stringify(list), list);
  return [...seen.values()];
}

/** `[["b", "a"], ["c"]]` in a canonical order, so that equal requirements compare equal. */
function anyOfAll(value: unknown): AnyOfAll {
  if (!Array.isArray(value)) return [];
  const lists = value.map((all: unknown) =>
    [
      ...new Set(Array.isArray(all) ? all.filter((s): s is string => typeof s === 'string') : []),
    ].sort(),
  );
  const unique = new Map(lists.map((all) => [JSON.stringify(all), all]));
  return [...unique.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, all]) => all);
}

function namedType(type: TypeNode): string {
  return type.kind === Kind.NAMED_TYPE ? type.name.value : namedType(type.type);
}
