// Validates Kubernetes objects offline against the API's OpenAPI schemas as `kubernetes-models`
// ships them (a devDependency, pinned), in two passes:
// - its generated validators: types, required fields, enums, formats, int-or-string (what the
//   API server's schema validation refuses);
// - its TypeScript declarations, through the TypeScript compiler: a field the API does not define
//   (kubectl's default `--validate=strict` refuses those; the generated validators accept any
//   extra property). The objects are written as literals typed by their kind's interface, and
//   the compiler's excess property check names each unknown field with its path.
import { dirname, join } from 'node:path';
import ts from 'typescript';
import type { K8sObject } from './kustomize.ts';

/** `kubernetes-models/<group>/<version>/<Kind>`; the core group is `v1` alone. */
function modelPath(o: K8sObject): string {
  return `kubernetes-models/${o.apiVersion}/${o.kind}`;
}

/** The schema validators' complaints about `o`, or none. An unknown kind is one. */
export async function schemaErrors(o: K8sObject): Promise<string[]> {
  let model: new (data: unknown) => { validate(): void };
  try {
    const module = (await import(modelPath(o))) as Record<string, unknown>;
    model = module[o.kind] as typeof model;
  } catch {
    return [`${o.apiVersion} ${o.kind}: no such kind in the Kubernetes API`];
  }
  try {
    new model(o).validate();
    return [];
  } catch (error) {
    return [`${o.kind} ${o.metadata.name}: ${(error as Error).message}`];
  }
}

const parsedFiles = new Map<string, ts.SourceFile | undefined>();

const root = join(dirname(new URL(import.meta.url).pathname), '..', '..');

/**
 * Fields the API does not define, each with its path. The declarations load once for every
 * object (about a second); each object is then walked along its kind's interface.
 */
export function unknownFieldErrors(objects: readonly K8sObject[]): string[] {
  // A file in the repository, so that `kubernetes-models` resolves from its node_modules.
  const file = join(root, 'test', 'helpers', '__k8s-objects__.ts');
  const text = objects.map((o, i) => `export type T${i} = import('${modelPath(o)}').I${o.kind};`);
  const source = text.join('\n');
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2023,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    lib: ['lib.es2023.d.ts'],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, onError, create) => {
    if (name === file) return ts.createSourceFile(name, source, version);
    // The declarations, parsed once for every check in the run.
    let parsed = parsedFiles.get(name);
    if (!parsed) parsedFiles.set(name, (parsed = getSourceFile(name, version, onError, create)));
    return parsed;
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const checker = program.getTypeChecker();
  const statements: readonly ts.Statement[] = program.getSourceFile(file)?.statements ?? [];
  const aliases = statements.filter(ts.isTypeAliasDeclaration);
  const errors: string[] = [];
  objects.forEach((o, i) => {
    const alias = aliases[i];
    const type = alias && checker.getTypeAtLocation(alias.type);
    if (!type || type.getProperties().length === 0) {
      errors.push(`${o.apiVersion} ${o.kind}: no declaration for this kind`);
      return;
    }
    const found: string[] = [];
    walk(checker, o, type, '', found);
    for (const e of found) errors.push(`${o.kind} ${o.metadata.name}: ${e}`);
  });
  return errors;
}

/** Follows `value` along `type`, reporting each key the type neither declares nor indexes. */
function walk(checker: ts.TypeChecker, value: unknown, type: ts.Type, path: string, out: string[]) {
  const t = checker.getNonNullableType(type);
  if (Array.isArray(value)) {
    const element = checker.isArrayType(t)
      ? checker.getTypeArguments(t as ts.TypeReference)[0]
      : undefined;
    if (element) value.forEach((v, i) => walk(checker, v, element, `${path}[${i}]`, out));
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  // Of a union (`IntOrString`, a type or null), the member an object can be.
  const shaped = (t.isUnion() ? t.types : [t]).find(
    (m) => m.getProperties().length > 0 || checker.getIndexInfosOfType(m).length > 0,
  );
  if (!shaped) return;
  const index = checker.getIndexInfosOfType(shaped)[0];
  for (const [key, v] of Object.entries(value)) {
    const property = shaped.getProperty(key);
    if (property)
      walk(checker, v, checker.getTypeOfSymbol(property), path ? `${path}.${key}` : key, out);
    else if (index) walk(checker, v, index.type, path ? `${path}.${key}` : key, out);
    else out.push(`${path}.${key}: not a field of ${checker.typeToString(shaped)}`);
  }
}
