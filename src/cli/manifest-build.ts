import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import {
  getLocation,
  type GraphQLError,
  Kind,
  parse,
  print,
  Source,
  validate,
  visit,
  type DefinitionNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';

/** Apollo's persisted query manifest, as `generate-persisted-query-manifest` writes it. */
export interface PersistedQueryManifest {
  format: 'apollo-persisted-query-manifest';
  version: 1;
  operations: { id: string; name: string; type: string; body: string }[];
}

/** What is wrong with one operation or file, where: `file:line:column`. */
export interface ManifestFailure {
  file: string;
  line: number;
  column: number;
  message: string;
}

/** Every `.graphql` file under `dir`, recursively, in a stable order. */
export async function readDocuments(dir: string): Promise<{ file: string; text: string }[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && e.name.endsWith('.graphql'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
  return Promise.all(
    files.map(async (file) => ({
      file: relative(process.cwd(), file),
      text: await readFile(file, 'utf8'),
    })),
  );
}

/**
 * One manifest entry per named operation of the files, each with the fragments it uses (from any
 * file) printed after it in name order, validated against `schema`. The id is the SHA-256 of the
 * body, as Apollo's tooling computes it; the body is what the client must send byte for byte, so
 * the client must print its documents the same way (graphql-js `print`; a client that adds
 * `__typename` itself, as Apollo Client does, must be built with the same transform).
 * Failures name the file, line and column of the definition at fault; any failure means no
 * manifest, so a client never ships with a list the gateway would not serve.
 */
export function buildManifest(
  files: readonly { file: string; text: string }[],
  schema: GraphQLSchema,
): { manifest: PersistedQueryManifest } | { failures: ManifestFailure[] } {
  const failures: ManifestFailure[] = [];
  const fail = (node: DefinitionNode | undefined, file: string, message: string) => {
    const at = node?.loc ? getLocation(node.loc.source, node.loc.start) : undefined;
    failures.push({ file, line: at?.line ?? 1, column: at?.column ?? 1, message });
  };
  const operations: { node: OperationDefinitionNode; file: string }[] = [];
  const fragments = new Map<string, { node: FragmentDefinitionNode; file: string }>();
  for (const { file, text } of files) {
    let definitions: readonly DefinitionNode[];
    try {
      definitions = parse(new Source(text, file)).definitions;
    } catch (error) {
      const at = (error as GraphQLError).locations?.[0];
      failures.push({
        file,
        line: at?.line ?? 1,
        column: at?.column ?? 1,
        message: (error as Error).message,
      });
      continue;
    }
    for (const node of definitions) {
      if (node.kind === Kind.FRAGMENT_DEFINITION) {
        const seen = fragments.get(node.name.value);
        if (seen) fail(node, file, `fragment ${node.name.value} is also defined in ${seen.file}`);
        else fragments.set(node.name.value, { node, file });
      } else if (node.kind === Kind.OPERATION_DEFINITION) {
        if (!node.name)
          fail(node, file, 'operations must be named: the name identifies them in the manifest');
        else operations.push({ node, file });
      } else fail(node, file, `${node.kind} has no place in an operation document`);
    }
  }
  const names = new Map<string, string>();
  const entries: PersistedQueryManifest['operations'] = [];
  for (const { node, file } of operations) {
    const name = node.name?.value as string;
    const seen = names.get(name);
    if (seen) {
      fail(node, file, `operation ${name} is also defined in ${seen}`);
      continue;
    }
    names.set(name, file);
    const used = usedFragments(node, fragments);
    const missing = used.filter((n) => !fragments.has(n));
    if (missing.length > 0) {
      fail(node, file, `operation ${name} uses unknown fragment ${missing.join(', ')}`);
      continue;
    }
    const document = {
      kind: Kind.DOCUMENT,
      definitions: [
        node,
        ...used.sort().map((n) => fragments.get(n)?.node as FragmentDefinitionNode),
      ],
    } as const;
    const errors = validate(schema, document);
    for (const error of errors) {
      // graphql-js locates each error in the source its node came from: the file at fault,
      // which for a shared fragment is the fragment's file.
      const at = error.locations?.[0];
      const source = error.source?.name ?? file;
      failures.push({
        file: source,
        line: at?.line ?? 1,
        column: at?.column ?? 1,
        message: `operation ${name}: ${error.message}`,
      });
    }
    if (errors.length > 0) continue;
    const body = print(document);
    entries.push({
      id: createHash('sha256').update(body).digest('hex'),
      name,
      type: node.operation,
      body,
    });
  }
  if (failures.length > 0) return { failures };
  return {
    manifest: { format: 'apollo-persisted-query-manifest', version: 1, operations: entries },
  };
}

/** The names of the fragments an operation spreads, transitively. */
function usedFragments(
  operation: OperationDefinitionNode,
  fragments: ReadonlyMap<string, { node: FragmentDefinitionNode }>,
): string[] {
  const used = new Set<string>();
  const pending: DefinitionNode[] = [operation];
  while (pending.length > 0) {
    visit(pending.pop() as DefinitionNode, {
      FragmentSpread(spread) {
        const name = spread.name.value;
        if (used.has(name)) return;
        used.add(name);
        const fragment = fragments.get(name);
        if (fragment) pending.push(fragment.node);
      },
    });
  }
  return [...used];
}
