import type protobuf from 'protobufjs';

/**
 * `google.api.http` rules: their path templates compiled to matchers, and the rules read from a
 * method's options. The grammar and matching semantics are those of google/api/http.proto
 * (https://github.com/googleapis/googleapis/blob/master/google/api/http.proto), as grpc-gateway
 * and Envoy's gRPC-JSON transcoder apply them:
 *
 *     Template = "/" Segments [ Verb ] ;
 *     Segments = Segment { "/" Segment } ;
 *     Segment  = "*" | "**" | LITERAL | Variable ;
 *     Variable = "{" FieldPath [ "=" Segments ] "}" ;
 *     FieldPath = IDENT { "." IDENT } ;
 *     Verb     = ":" LITERAL ;
 */

export type Segment =
  | { kind: 'literal'; value: string }
  | { kind: 'any' } // `*`: exactly one segment
  | { kind: 'rest' }; // `**`: zero or more segments, last in the template

export interface TemplateVariable {
  /** The request field it binds, as proto field names (`shelf.name`). */
  fieldPath: string[];
  /** Segments [start, end) of the template it covers. */
  start: number;
  end: number;
}

export interface PathTemplate {
  readonly source: string;
  readonly segments: readonly Segment[];
  readonly variables: readonly TemplateVariable[];
  readonly verb?: string;
}

export class TemplateError extends Error {}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parseTemplate(source: string): PathTemplate {
  if (!source.startsWith('/')) throw new TemplateError(`"${source}" must start with /`);
  let body = source.slice(1);
  let verb: string | undefined;
  // The verb follows the last segment, outside any variable: `/v1/{name=*}:undelete`.
  const lastSlash = body.lastIndexOf('/');
  const lastBrace = body.lastIndexOf('}');
  const colon = body.indexOf(':', Math.max(lastSlash, lastBrace) + 1);
  if (colon !== -1) {
    verb = body.slice(colon + 1);
    body = body.slice(0, colon);
    if (!verb) throw new TemplateError(`"${source}" has an empty verb`);
  }
  const segments: Segment[] = [];
  const variables: TemplateVariable[] = [];
  let i = 0;
  const readSegment = (text: string): Segment => {
    if (text === '*') return { kind: 'any' };
    if (text === '**') return { kind: 'rest' };
    if (!text || /[{}=*]/.test(text)) throw new TemplateError(`"${source}": bad segment "${text}"`);
    return { kind: 'literal', value: text };
  };
  while (i < body.length) {
    if (body[i] === '{') {
      const close = body.indexOf('}', i);
      if (close === -1) throw new TemplateError(`"${source}": unclosed {`);
      const [field = '', pattern] = body.slice(i + 1, close).split('=', 2);
      const fieldPath = field.split('.');
      if (!fieldPath.every((part) => IDENT.test(part)))
        throw new TemplateError(`"${source}": bad field path "${field}"`);
      const start = segments.length;
      for (const part of (pattern ?? '*').split('/')) segments.push(readSegment(part));
      variables.push({ fieldPath, start, end: segments.length });
      i = close + 1;
    } else {
      const slash = body.indexOf('/', i);
      const end = slash === -1 ? body.length : slash;
      segments.push(readSegment(body.slice(i, end)));
      i = end;
    }
    if (i < body.length) {
      if (body[i] !== '/') throw new TemplateError(`"${source}": expected / at ${i + 1}`);
      i++;
      if (i === body.length) throw new TemplateError(`"${source}" ends with /`);
    }
  }
  const rest = segments.findIndex((s) => s.kind === 'rest');
  if (rest !== -1 && rest !== segments.length - 1)
    throw new TemplateError(`"${source}": ** must be the last segment`);
  return { source, segments, variables, ...(verb ? { verb } : {}) };
}

export interface TemplateMatch {
  /** Variable values by dotted field path, percent-decoded. */
  readonly values: Map<string, string>;
}

/**
 * Matches a request path (still percent-encoded, without the query). A single-segment variable
 * is fully decoded; a multi-segment one keeps `%2F` encoded, so a slash inside a segment stays
 * distinguishable from a separator (http.proto: "reserved expansion").
 */
export function matchTemplate(template: PathTemplate, path: string): TemplateMatch | undefined {
  let body = path.slice(1);
  if (template.verb !== undefined) {
    if (!body.endsWith(`:${template.verb}`)) return undefined;
    body = body.slice(0, -template.verb.length - 1);
  }
  const parts = body === '' ? [] : body.split('/');
  const { segments } = template;
  const last = segments[segments.length - 1];
  if (last?.kind === 'rest' ? parts.length < segments.length - 1 : parts.length !== segments.length)
    return undefined;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as Segment;
    if (segment.kind === 'rest') break;
    const part = parts[i] as string;
    if (segment.kind === 'literal' ? decode(part, false) !== segment.value : part === '')
      return undefined;
  }
  const values = new Map<string, string>();
  for (const variable of template.variables) {
    const end = segments[variable.end - 1]?.kind === 'rest' ? parts.length : variable.end;
    const covered = parts.slice(variable.start, end);
    const single = variable.end - variable.start === 1 && segments[variable.start]?.kind === 'any';
    const value = single
      ? decode(covered[0] ?? '', false)
      : covered.map((part) => decode(part, true)).join('/');
    if (value === undefined) return undefined;
    values.set(variable.fieldPath.join('.'), value);
  }
  return { values };
}

function decode(part: string, keepSlash: boolean): string | undefined {
  try {
    return keepSlash
      ? part.split(/%2F/i).map(decodeURIComponent).join('%2F')
      : decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

/**
 * Orders templates so the most specific wins: segment by segment, a literal before `*` before
 * `**`, then longer before shorter, then one with a verb first; ties keep declaration order.
 */
export function compareSpecificity(a: PathTemplate, b: PathTemplate): number {
  const rank = (s: Segment | undefined) =>
    s === undefined ? 3 : s.kind === 'literal' ? 0 : s.kind === 'any' ? 1 : 2;
  const length = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < length; i++) {
    const diff = rank(a.segments[i]) - rank(b.segments[i]);
    if (diff !== 0) return diff;
  }
  return (b.verb === undefined ? 0 : 1) - (a.verb === undefined ? 0 : 1);
}

/** Fills a template from field values: the reverse direction (gRPC front to a REST backend). */
export function expandTemplate(
  template: PathTemplate,
  valueOf: (fieldPath: string) => string,
): string {
  const out: string[] = [];
  let index = 0;
  for (const variable of template.variables) {
    for (; index < variable.start; index++) out.push(literalOf(template.segments[index]));
    const value = valueOf(variable.fieldPath.join('.'));
    const single =
      variable.end - variable.start === 1 && template.segments[variable.start]?.kind === 'any';
    out.push(
      single ? encodeURIComponent(value) : value.split('/').map(encodeURIComponent).join('/'),
    );
    index = variable.end;
  }
  for (; index < template.segments.length; index++) out.push(literalOf(template.segments[index]));
  return `/${out.join('/')}${template.verb !== undefined ? `:${template.verb}` : ''}`;
}

function literalOf(segment: Segment | undefined): string {
  if (segment?.kind !== 'literal')
    throw new TemplateError('a wildcard outside a variable cannot be filled');
  return encodeURIComponent(segment.value);
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/** One HTTP binding of a method: the rule itself or one of its `additional_bindings`. */
export interface HttpBinding {
  /** Upper case, as it arrives on the wire; a `custom` rule's kind as given. */
  readonly httpMethod: string;
  readonly template: PathTemplate;
  /** `*` (the whole message), a field path, or undefined (no body). */
  readonly body?: string;
  /** The response field sent as the body instead of the whole message. */
  readonly responseBody?: string;
}

interface RawRule {
  get?: string;
  put?: string;
  post?: string;
  delete?: string;
  patch?: string;
  custom?: { kind?: string; path?: string };
  body?: string;
  response_body?: string;
  additional_bindings?: RawRule | RawRule[];
}

/** The HTTP bindings a method's `google.api.http` option declares (none without the option). */
export function readHttpBindings(method: protobuf.Method): HttpBinding[] {
  const option = method.parsedOptions?.find(
    (o: Record<string, unknown>) => '(google.api.http)' in o,
  );
  if (!option) return [];
  const rule = option['(google.api.http)'] as RawRule;
  const bindings = [toBinding(rule)];
  const extra = rule.additional_bindings;
  // http.proto: additional bindings must not nest further; protobufjs gives one as an object.
  for (const binding of Array.isArray(extra) ? extra : extra ? [extra] : []) {
    if (binding.additional_bindings)
      throw new TemplateError('additional_bindings must not contain additional_bindings');
    bindings.push(toBinding(binding));
  }
  return bindings;
}

function toBinding(rule: RawRule): HttpBinding {
  let httpMethod: string | undefined;
  let path: string | undefined;
  for (const verb of HTTP_METHODS) {
    if (rule[verb] !== undefined) {
      if (httpMethod) throw new TemplateError('a rule names one HTTP method');
      httpMethod = verb.toUpperCase();
      path = rule[verb];
    }
  }
  if (rule.custom) {
    if (httpMethod) throw new TemplateError('a rule names one HTTP method');
    httpMethod = rule.custom.kind;
    path = rule.custom.path;
  }
  if (!httpMethod || path === undefined)
    throw new TemplateError('a rule needs a method and a path');
  return {
    httpMethod,
    template: parseTemplate(path),
    ...(rule.body ? { body: rule.body } : {}),
    ...(rule.response_body ? { responseBody: rule.response_body } : {}),
  };
}
