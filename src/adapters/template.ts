import { select } from './select.ts';

/**
 * Templates in adapter directives (`@rest`, `@grpc`): literal text with `{scope.path}` placeholders, where scope is
 * `args` (the field's arguments), `parent` (the object the field belongs to), `key` (one entity
 * key, per-key entity calls) or `keys` (all keys of a batch).
 */
export type Scope = 'args' | 'parent' | 'key' | 'keys';
const SCOPES: ReadonlySet<string> = new Set(['args', 'parent', 'key', 'keys']);
const PLACEHOLDER = /\{([^{}]*)\}/g;

export interface Placeholder {
  scope: Scope;
  /** Dotted path inside the scope: `input.name` for `{args.input.name}`. */
  path: string[];
}

export interface Template {
  readonly source: string;
  /** Literal text and placeholders, in order. */
  readonly parts: readonly (string | Placeholder)[];
}

export class TemplateError extends Error {}

export function parseTemplate(source: string): Template {
  const parts: (string | Placeholder)[] = [];
  let last = 0;
  for (const match of source.matchAll(PLACEHOLDER)) {
    if (match.index > last) parts.push(source.slice(last, match.index));
    const [scope = '', ...path] = (match[1] ?? '').trim().split('.');
    if (
      !SCOPES.has(scope) ||
      path.length === 0 ||
      path.some((p) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(p))
    ) {
      throw new TemplateError(
        `"${match[0]}" is not a placeholder; write {args.name}, {parent.field}, {key.field} or {keys.field}`,
      );
    }
    parts.push({ scope: scope as Scope, path });
    last = match.index + match[0].length;
  }
  if (last < source.length) parts.push(source.slice(last));
  if (parts.some((p) => typeof p === 'string' && /[{}]/.test(p))) {
    throw new TemplateError(`"${source}" has an unmatched brace`);
  }
  return { source, parts };
}

export function placeholders(template: Template): Placeholder[] {
  return template.parts.filter((p): p is Placeholder => typeof p !== 'string');
}

export type Values = Partial<Record<Scope, unknown>>;

function lookup(values: Values, placeholder: Placeholder): unknown {
  return select(values[placeholder.scope], placeholder.path);
}

/**
 * A value: a template that is exactly one placeholder keeps the value's type (an input object
 * for a body, a list for a query parameter); anything else renders to a string.
 */
export function renderValue(template: Template, values: Values): unknown {
  const [only] = template.parts;
  if (template.parts.length === 1 && only !== undefined && typeof only !== 'string')
    return lookup(values, only);
  return renderString(template, values, String);
}

/** A path: every placeholder value is percent-encoded so `/` or `?` in a value stays data. */
export function renderPath(template: Template, values: Values): string {
  return renderString(template, values, (v) => encodeURIComponent(String(v)));
}

function renderString(
  template: Template,
  values: Values,
  encode: (value: unknown) => string,
): string {
  let out = '';
  for (const part of template.parts) {
    if (typeof part === 'string') {
      out += part;
      continue;
    }
    const value = lookup(values, part);
    out +=
      value === null || value === undefined
        ? ''
        : encode(Array.isArray(value) ? value.join(',') : value);
  }
  return out;
}
