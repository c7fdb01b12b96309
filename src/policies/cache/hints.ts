import { Kind, valueFromASTUntyped, type DirectiveNode, type DocumentNode } from 'graphql';

/**
 * Cache hints by schema coordinate, as Apollo Server's cache control reads them
 * (https://www.apollographql.com/docs/apollo-server/performance/caching), plus the tags and
 * invalidations the response and entity caches find entries by. policy.ts turns them into an
 * operation's policy; the config adds a layer over the SDL's (mergeHints).
 */

export type CacheScope = 'PUBLIC' | 'PRIVATE';

export interface CacheHint {
  readonly maxAge?: number;
  readonly scope?: CacheScope;
  /** The field takes its parent's maxAge: it carries no maxAge of its own. */
  readonly inheritMaxAge?: boolean;
  /** Seconds past maxAge an entry may be served while it is refreshed (RFC 5861). */
  readonly staleWhileRevalidate?: number;
}

export interface InvalidationRule {
  /**
   * Invalidate the entities in the field's result, by key (by their type when the result does
   * not hold the key).
   */
  readonly entities: boolean;
  readonly types: readonly string[];
  readonly tags: readonly string[];
}

export interface CacheHints {
  /** By type name. */
  readonly types: ReadonlyMap<string, CacheHint>;
  /** By field coordinate, `Type.field`. */
  readonly fields: ReadonlyMap<string, CacheHint>;
  /** Declared tag names by coordinate (`Type` or `Type.field`). */
  readonly tags: ReadonlyMap<string, readonly string[]>;
  /** By mutation field coordinate (`Mutation.updateProduct`). */
  readonly invalidations: ReadonlyMap<string, InvalidationRule>;
}

export const NO_HINTS: CacheHints = {
  types: new Map(),
  fields: new Map(),
  tags: new Map(),
  invalidations: new Map(),
};

const HINTABLE_KINDS: ReadonlySet<Kind> = new Set([
  Kind.OBJECT_TYPE_DEFINITION,
  Kind.OBJECT_TYPE_EXTENSION,
  Kind.INTERFACE_TYPE_DEFINITION,
  Kind.INTERFACE_TYPE_EXTENSION,
  Kind.UNION_TYPE_DEFINITION,
  Kind.UNION_TYPE_EXTENSION,
]);

/**
 * Reads `@cacheControl`, `@cacheTag` and `@cacheInvalidate` from each subgraph's SDL (or one
 * supergraph's). A coordinate several documents hint gets the strictest of them: the smallest
 * maxAge and staleWhileRevalidate, PRIVATE over PUBLIC, inheritMaxAge only when every hint says
 * so; tags and invalidations are united.
 */
export function hintsFromSdl(documents: readonly DocumentNode[]): CacheHints {
  const types = new Map<string, CacheHint>();
  const fields = new Map<string, CacheHint>();
  const tags = new Map<string, string[]>();
  const invalidations = new Map<string, InvalidationRule>();
  for (const document of documents) {
    const names = directiveNames(document);
    const read = (
      coordinate: string,
      isField: boolean,
      directives: readonly DirectiveNode[] | undefined,
    ) => {
      const hints = isField ? fields : types;
      for (const directive of directives ?? []) {
        const name = directive.name.value;
        const args = argumentsOf(directive);
        if (names.cacheControl.has(name)) {
          const hint = hintFromArguments(args);
          const known = hints.get(coordinate);
          hints.set(coordinate, known ? strictest(known, hint) : hint);
        } else if (names.cacheTag.has(name) && typeof args.name === 'string') {
          tags.set(coordinate, union(tags.get(coordinate), [args.name]));
        } else if (names.cacheInvalidate.has(name) && isField) {
          const rule = ruleFromArguments(args);
          const known = invalidations.get(coordinate);
          invalidations.set(coordinate, known ? unitedRules(known, rule) : rule);
        }
      }
    };
    for (const definition of document.definitions) {
      if (!HINTABLE_KINDS.has(definition.kind) || !('name' in definition) || !definition.name)
        continue;
      const type = definition.name.value;
      read(type, false, 'directives' in definition ? definition.directives : undefined);
      if (!('fields' in definition)) continue;
      for (const field of definition.fields ?? [])
        read(`${type}.${field.name.value}`, true, field.directives);
    }
  }
  return { types, fields, tags, invalidations };
}

/**
 * Later layers replace earlier ones coordinate by coordinate: the config's hint (or tags) for
 * `Product` replaces the SDL's whole, so a config can also loosen what a subgraph declared.
 */
export function mergeHints(...layers: CacheHints[]): CacheHints {
  const over = <V>(pick: (layer: CacheHints) => ReadonlyMap<string, V>) =>
    new Map(layers.flatMap((layer) => [...pick(layer)]));
  return {
    types: over((l) => l.types),
    fields: over((l) => l.fields),
    tags: over((l) => l.tags),
    invalidations: over((l) => l.invalidations),
  };
}

/**
 * A subgraph's `Cache-Control` response header as a hint (RFC 9111 §5.2.2,
 * https://www.rfc-editor.org/rfc/rfc9111#section-5.2.2; `stale-while-revalidate` from RFC 5861).
 * An absent header gives `{}`, no hint: whether that means "cache by the schema's hints" or
 * "do not cache" is the caller's choice, not the header's.
 */
export function parseCacheControl(
  header: string | string[] | undefined,
): CacheHint & { readonly noStore?: boolean } {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  let maxAge: number | undefined;
  let sharedMaxAge: number | undefined;
  let swr: number | undefined;
  let scope: CacheScope | undefined;
  let noStore = false;
  let revalidate = false;
  // A directive given twice with different values: RFC 9111 §4.2.1 lets a cache treat the
  // response as stale; the smallest value is the closest it can come while still caching.
  const smallest = (known: number | undefined, value: string | undefined) => {
    const seconds = deltaSeconds(value);
    return seconds === undefined ? known : Math.min(known ?? seconds, seconds);
  };
  for (const [name, value] of directivesOf(text)) {
    switch (name) {
      case 'max-age':
        maxAge = smallest(maxAge, value);
        break;
      case 's-maxage':
        sharedMaxAge = smallest(sharedMaxAge, value);
        break;
      case 'stale-while-revalidate':
        swr = smallest(swr, value);
        break;
      case 'private':
        scope = 'PRIVATE';
        break;
      case 'public':
        scope ??= 'PUBLIC';
        break;
      case 'no-store':
      case 'no-cache':
        noStore = true;
        break;
      // Stale responses must not be served without revalidation (RFC 9111 §5.2.2.2, §5.2.2.8).
      case 'must-revalidate':
      case 'proxy-revalidate':
        revalidate = true;
        break;
    }
  }
  const scoped = scope ? { scope } : {};
  if (noStore) return { maxAge: 0, noStore: true, ...scoped };
  // The gateway is a shared cache: s-maxage overrides max-age for it (RFC 9111 §5.2.2.10).
  const age = sharedMaxAge ?? maxAge;
  return {
    ...(age === undefined ? {} : { maxAge: age }),
    ...scoped,
    ...(swr === undefined ? {} : { staleWhileRevalidate: revalidate ? 0 : swr }),
  };
}

/** The local names of the three directives: their own, and any an `@link` import gives them. */
function directiveNames(document: DocumentNode) {
  const names = {
    cacheControl: new Set(['cacheControl']),
    cacheTag: new Set(['cacheTag']),
    cacheInvalidate: new Set(['cacheInvalidate']),
  };
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.SCHEMA_DEFINITION && definition.kind !== Kind.SCHEMA_EXTENSION)
      continue;
    for (const link of definition.directives ?? []) {
      if (link.name.value !== 'link') continue;
      const imports = argumentsOf(link).import;
      for (const entry of Array.isArray(imports) ? imports : []) {
        if (!entry || typeof entry !== 'object' || !('name' in entry) || !('as' in entry)) continue;
        const spec = String(entry.name).replace(/^@/, '');
        if (Object.hasOwn(names, spec))
          names[spec as keyof typeof names].add(String(entry.as).replace(/^@/, ''));
      }
    }
  }
  return names;
}

function argumentsOf(directive: DirectiveNode): Record<string, unknown> {
  return Object.fromEntries(
    (directive.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value)]),
  );
}

const seconds = (value: unknown) =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;

function hintFromArguments(args: Record<string, unknown>): CacheHint {
  const scope = args.scope === 'PUBLIC' || args.scope === 'PRIVATE' ? args.scope : undefined;
  // As Apollo Server reads it: inheritMaxAge drops the directive's own maxAge.
  if (args.inheritMaxAge === true) return { inheritMaxAge: true, ...(scope ? { scope } : {}) };
  const maxAge = seconds(args.maxAge);
  const swr = seconds(args.staleWhileRevalidate);
  return {
    ...(maxAge === undefined ? {} : { maxAge }),
    ...(scope ? { scope } : {}),
    ...(swr === undefined ? {} : { staleWhileRevalidate: swr }),
  };
}

function ruleFromArguments(args: Record<string, unknown>): InvalidationRule {
  const strings = (value: unknown) =>
    Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  return {
    entities: args.entities !== false,
    types: strings(args.types),
    tags: strings(args.tags),
  };
}

/** The smaller of two optional numbers, or whichever is set. */
function least(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

/** A hint's staleWhileRevalidate as it restricts: a maxAge without one allows no stale serving. */
function swrOf(hint: CacheHint): number | undefined {
  return hint.staleWhileRevalidate ?? (hint.maxAge === undefined ? undefined : 0);
}

function strictest(a: CacheHint, b: CacheHint): CacheHint {
  const maxAge = least(a.maxAge, b.maxAge);
  const swr = least(swrOf(a), swrOf(b));
  const scope = a.scope === 'PRIVATE' || b.scope === 'PRIVATE' ? 'PRIVATE' : (a.scope ?? b.scope);
  return {
    ...(maxAge === undefined ? {} : { maxAge }),
    ...(scope ? { scope } : {}),
    ...(a.inheritMaxAge && b.inheritMaxAge ? { inheritMaxAge: true } : {}),
    ...(swr === undefined ? {} : { staleWhileRevalidate: swr }),
  };
}

function unitedRules(a: InvalidationRule, b: InvalidationRule): InvalidationRule {
  return {
    entities: a.entities || b.entities,
    types: union(a.types, b.types),
    tags: union(a.tags, b.tags),
  };
}

function union(a: readonly string[] | undefined, b: readonly string[]): string[] {
  return [...new Set([...(a ?? []), ...b])];
}

/** `name=value` pairs of a Cache-Control value; names lowercased, quotes taken off values. */
function* directivesOf(text: string): Generator<[string, string | undefined]> {
  const directive =
    /\s*([^\s=,"]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^\s,"]*))?\s*(?:,|$)|[^,]*(?:,|$)/gy;
  for (const match of text.matchAll(directive)) {
    if (match[0] === '') break;
    if (!match[1]) continue;
    const raw = match[2];
    const value = raw?.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
    yield [match[1].toLowerCase(), value];
  }
}

/** RFC 9111 §1.2.2 delta-seconds: digits only. */
function deltaSeconds(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}
