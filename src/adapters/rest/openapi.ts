/**
 * OpenAPI 3.0 / 3.1 to REST adapter SDL: every JSON operation becomes a field carrying its
 * `@rest` mapping, every schema a GraphQL type. The output is plain SDL a team can print
 * (`gateway rest print <subgraph>`), check in, and extend with `@key` and `@restEntity`.
 * https://spec.openapis.org/oas/v3.1.0
 *
 * Constructs GraphQL cannot express faithfully are listed in `unsupported`, by name, and mapped
 * to the closest safe shape (a `JSON` scalar, a skipped parameter), never dropped silently.
 */

type Json = Record<string, unknown>;

export interface GeneratedSdl {
  sdl: string;
  unsupported: string[];
}

const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

export function openApiToSdl(document: unknown): GeneratedSdl {
  const doc = asObject(document);
  const version = String(doc.openapi ?? '');
  if (!/^3\.[01]\./.test(version)) {
    throw new Error(
      `expected an OpenAPI 3.0 or 3.1 document (openapi: 3.x.y), got ${version ? `openapi: ${version}` : 'no openapi version'}`,
    );
  }
  const schemas = asObject(asObject(doc.components).schemas);
  const unsupported: string[] = [];
  const outputs = new Map<string, string>();
  const inputs = new Map<string, string>();
  const enums = new Map<string, string>();
  let usesJson = false;

  /** Follows `$ref` chains to the schema and the component name it ends at. */
  const deref = (schema: unknown, seen = new Set<string>()): { schema: Json; name?: string } => {
    let current = asObject(schema);
    let name: string | undefined;
    while (typeof current.$ref === 'string') {
      const ref = current.$ref;
      const match = /^#\/components\/schemas\/(.+)$/.exec(ref);
      if (!match || seen.has(ref)) {
        unsupported.push(
          `$ref ${ref} (only local #/components/schemas refs, without cycles through allOf)`,
        );
        return { schema: {} };
      }
      seen.add(ref);
      name = match[1] as string;
      current = asObject(schemas[name]);
    }
    return { schema: current, ...(name ? { name } : {}) };
  };

  /** allOf members merged into one object schema: properties and required lists together. */
  const flatten = (schema: Json, where: string): Json => {
    if (!Array.isArray(schema.allOf)) return schema;
    const properties: Json = {};
    const required = new Set<string>(asStrings(schema.required));
    for (const member of schema.allOf) {
      const resolved = flatten(deref(member).schema, where);
      Object.assign(properties, asObject(resolved.properties));
      for (const r of asStrings(resolved.required)) required.add(r);
    }
    Object.assign(properties, asObject(schema.properties));
    return { ...schema, type: 'object', properties, required: [...required] };
  };

  const isNullable = (schema: Json) =>
    schema.nullable === true || (Array.isArray(schema.type) && schema.type.includes('null'));
  const typeName = (schema: Json) =>
    Array.isArray(schema.type)
      ? (schema.type.find((t) => t !== 'null') as string | undefined)
      : (schema.type as string | undefined);

  /** The GraphQL type for a schema, generating named types on the way; without `!`. */
  const graphqlType = (
    raw: unknown,
    suggested: string,
    mode: 'output' | 'input',
    where: string,
  ): string => {
    const { schema: resolved, name } = deref(raw);
    const schema = flatten(resolved, where);
    for (const keyword of ['oneOf', 'anyOf', 'not']) {
      if (keyword in schema) {
        unsupported.push(`${keyword} at ${where}: mapped to the JSON scalar`);
        usesJson = true;
        return 'JSON';
      }
    }
    const type = typeName(schema) ?? (schema.properties ? 'object' : undefined);
    if (Array.isArray(schema.enum) && type === 'string')
      return enumType(schema, name ?? suggested, where);
    switch (type) {
      case 'string':
        return 'String';
      case 'integer':
        // GraphQL Int is 32-bit; larger integers travel as strings so nothing is lost.
        return schema.format === 'int64' ? 'String' : 'Int';
      case 'number':
        return 'Float';
      case 'boolean':
        return 'Boolean';
      case 'array':
        return `[${graphqlType(schema.items, singular(suggested), mode, `${where}.items`)}${isNullable(deref(schema.items).schema) ? '' : '!'}]`;
      case 'object': {
        if (!schema.properties) {
          usesJson = true;
          return 'JSON';
        }
        const base = pascal(name ?? suggested);
        return mode === 'output'
          ? objectType(base, schema, where)
          : inputType(`${base}Input`, schema, where);
      }
      default:
        unsupported.push(`schema without a type at ${where}: mapped to the JSON scalar`);
        usesJson = true;
        return 'JSON';
    }
  };

  const fieldsOf = (schema: Json, mode: 'output' | 'input', owner: string, where: string) => {
    const required = new Set(asStrings(schema.required));
    return Object.entries(asObject(schema.properties)).map(([property, value]) => {
      const field = graphqlName(property);
      const nullable = isNullable(deref(value).schema) || !required.has(property);
      const type = graphqlType(value, `${owner}${pascal(property)}`, mode, `${where}.${property}`);
      const rename =
        mode === 'output' && field !== property
          ? ` @restField(from: ${JSON.stringify(property)})`
          : '';
      if (mode === 'input' && field !== property)
        unsupported.push(
          `input property ${where}.${property}: not a GraphQL name, sent as ${field}`,
        );
      return `  ${field}: ${type}${nullable ? '' : '!'}${rename}`;
    });
  };

  const objectType = (name: string, schema: Json, where: string): string => {
    if (!outputs.has(name)) {
      outputs.set(name, '');
      outputs.set(name, `type ${name} {\n${fieldsOf(schema, 'output', name, where).join('\n')}\n}`);
    }
    return name;
  };

  const inputType = (name: string, schema: Json, where: string): string => {
    if (!inputs.has(name)) {
      inputs.set(name, '');
      inputs.set(
        name,
        `input ${name} {\n${fieldsOf(schema, 'input', name.replace(/Input$/, ''), where).join('\n')}\n}`,
      );
    }
    return name;
  };

  const enumType = (schema: Json, name: string, where: string): string => {
    const values = (schema.enum as unknown[]).map(String);
    if (!values.every((v) => NAME.test(v))) {
      unsupported.push(`enum ${where} has values that are not GraphQL names: mapped to String`);
      return 'String';
    }
    const enumName = pascal(name);
    if (!enums.has(enumName))
      enums.set(enumName, `enum ${enumName} {\n${values.map((v) => `  ${v}`).join('\n')}\n}`);
    return enumName;
  };

  const queries: string[] = [];
  const mutations: string[] = [];
  const names = new Set<string>();
  for (const [path, rawItem] of Object.entries(asObject(doc.paths))) {
    const item = asObject(rawItem);
    for (const method of METHODS) {
      if (!(method in item)) continue;
      const operation = asObject(item[method]);
      const where = `${method.toUpperCase()} ${path}`;
      const field = uniqueName(
        graphqlName(
          camel(String(operation.operationId ?? `${method} ${path.replace(/\{[^}]*\}/g, 'by')}`)),
        ),
        names,
      );
      const args: string[] = [];
      const query: string[] = [];
      const headers: string[] = [];
      let restPath = path;
      const parameters = [...asArray(item.parameters), ...asArray(operation.parameters)].map(
        (p) => deref(p).schema,
      );
      for (const parameter of parameters) {
        const pname = String(parameter.name ?? '');
        const arg = graphqlName(camel(pname));
        const required = parameter.required === true || parameter.in === 'path';
        const type = graphqlType(
          parameter.schema ?? { type: 'string' },
          `${field}${pascal(pname)}`,
          'input',
          `${where} parameter ${pname}`,
        );
        switch (parameter.in) {
          case 'path':
            restPath = restPath.replace(`{${pname}}`, `{args.${arg}}`);
            break;
          case 'query':
            query.push(`{ name: ${JSON.stringify(pname)}, value: "{args.${arg}}" }`);
            break;
          case 'header':
            headers.push(
              `{ name: ${JSON.stringify(pname.toLowerCase())}, value: "{args.${arg}}" }`,
            );
            break;
          default:
            unsupported.push(
              `${parameter.in ?? 'unknown'} parameter ${pname} of ${where}: skipped`,
            );
            continue;
        }
        args.push(`${arg}: ${type}${required ? '!' : ''}`);
      }
      let body = '';
      const requestBody = deref(operation.requestBody).schema;
      if (Object.keys(requestBody).length > 0) {
        const json = asObject(asObject(requestBody.content)['application/json']);
        if (!json.schema) {
          unsupported.push(`request body of ${where} is not application/json: skipped`);
        } else {
          const type = graphqlType(json.schema, `${field}Body`, 'input', `${where} requestBody`);
          args.push(`input: ${type}${requestBody.required === true ? '!' : ''}`);
          body = ', body: "{args.input}"';
        }
      }
      const returns = responseType(
        operation,
        (schema) => graphqlType(schema, `${pascal(field)}Result`, 'output', `${where} response`),
        unsupported,
        where,
      );
      const rest = [
        `${method}: ${JSON.stringify(restPath)}`,
        ...(query.length ? [`query: [${query.join(', ')}]`] : []),
        ...(headers.length ? [`headers: [${headers.join(', ')}]`] : []),
      ].join(', ');
      const description =
        typeof operation.summary === 'string' ? `  ${JSON.stringify(operation.summary)}\n` : '';
      const line = `${description}  ${field}${args.length ? `(${args.join(', ')})` : ''}: ${returns} @rest(${rest}${body})`;
      (method === 'get' ? queries : mutations).push(line);
    }
  }
  if (queries.length === 0)
    unsupported.push('no GET operation: the subgraph has an empty Query type');

  const blocks = [
    'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])',
    ...(usesJson ? ['"Any JSON value, passed through as the service sent it."\nscalar JSON'] : []),
    `type Query {\n${queries.length ? queries.join('\n') : '  _empty: Boolean'}\n}`,
    ...(mutations.length ? [`type Mutation {\n${mutations.join('\n')}\n}`] : []),
    ...[...outputs.values(), ...inputs.values(), ...enums.values()].filter(Boolean),
  ];
  return { sdl: `${blocks.join('\n\n')}\n`, unsupported };
}

function responseType(
  operation: Json,
  toType: (schema: unknown) => string,
  unsupported: string[],
  where: string,
): string {
  const responses = asObject(operation.responses);
  const status =
    ['200', '201', '202', '203', '2XX', '2xx', 'default'].find((s) => s in responses) ??
    Object.keys(responses).find((s) => s.startsWith('2'));
  if (status === undefined || status === '204') return 'Boolean';
  const content = asObject(asObject(responses[status]).content);
  const json = asObject(content['application/json']);
  if (!json.schema) {
    if (Object.keys(content).length > 0)
      unsupported.push(`response of ${where} is not application/json: mapped to Boolean`);
    return 'Boolean';
  }
  return toType(json.schema);
}

function asObject(value: unknown): Json {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function asStrings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

function words(text: string): string[] {
  return text
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
}

function camel(text: string): string {
  return words(text)
    .map((w, i) => (i === 0 ? w.toLowerCase() : w[0]!.toUpperCase() + w.slice(1).toLowerCase()))
    .join('');
}

function pascal(text: string): string {
  return words(text)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
}

function singular(name: string): string {
  return name.endsWith('s') ? name.slice(0, -1) : `${name}Item`;
}

/** A GraphQL name for any text: invalid characters become `_`, a leading digit gets `_`. */
function graphqlName(text: string): string {
  const name = text.replace(/[^_0-9A-Za-z]/g, '_');
  return NAME.test(name) ? name : `_${name}`;
}

function uniqueName(name: string, taken: Set<string>): string {
  let candidate = name;
  for (let i = 2; taken.has(candidate); i++) candidate = `${name}${i}`;
  taken.add(candidate);
  return candidate;
}
