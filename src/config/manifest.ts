import { createHash } from 'node:crypto';

/** A persisted-operation manifest, read: document text by id. */
export type PersistedManifest = ReadonlyMap<string, string>;

/**
 * The id Apollo's tooling gives a document: the SHA-256 of its exact text in lowercase hex
 * (`generate-persisted-query-manifest`, and APQ's `sha256Hash`). GraphQL Code Generator's
 * client preset hashes the same way by default (`hashAlgorithm: 'sha256'`).
 */
export function documentId(body: string): string {
  return createHash('sha256').update(body).digest('hex');
}

/**
 * Parses a manifest in either format a client build writes, or says what is wrong with it:
 * - Apollo's persisted query manifest:
 *   `{ "format": "apollo-persisted-query-manifest", "version": 1, "operations": [{ "id", "name", "type", "body" }] }`
 *   https://www.apollographql.com/docs/graphos/platform/security/persisted-queries#manifest-format
 * - GraphQL Code Generator's client preset `persisted-documents.json`: `{ "<hash>": "<document>" }`
 *   https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#persisted-documents
 * Each problem comes with the key path in the file (`operations.2.body`), so the error can name it.
 */
export function parseManifest(
  text: string,
): { manifest: PersistedManifest } | { problems: { path: string; message: string }[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problems: [{ path: '', message: `not JSON: ${(error as Error).message}` }] };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { problems: [{ path: '', message: 'expected a JSON object' }] };
  const record = value as Record<string, unknown>;
  const problems: { path: string; message: string }[] = [];
  const manifest = new Map<string, string>();
  if ('format' in record || 'operations' in record) {
    if (record.format !== 'apollo-persisted-query-manifest')
      problems.push({ path: 'format', message: 'expected "apollo-persisted-query-manifest"' });
    if (record.version !== 1) problems.push({ path: 'version', message: 'expected 1' });
    if (!Array.isArray(record.operations))
      return { problems: [...problems, { path: 'operations', message: 'expected an array' }] };
    for (const [index, operation] of (record.operations as unknown[]).entries()) {
      const { id, body } = (operation ?? {}) as { id?: unknown; body?: unknown };
      if (typeof id !== 'string' || id === '')
        problems.push({ path: `operations.${index}.id`, message: 'expected a non-empty string' });
      else if (typeof body !== 'string' || body === '')
        problems.push({ path: `operations.${index}.body`, message: 'expected a non-empty string' });
      else if (manifest.has(id) && manifest.get(id) !== body)
        problems.push({ path: `operations.${index}.id`, message: `id ${id} is used twice` });
      else manifest.set(id, body);
    }
  } else {
    for (const [id, body] of Object.entries(record)) {
      if (typeof body !== 'string' || body === '')
        problems.push({ path: id, message: 'expected a document string' });
      else manifest.set(id, body);
    }
  }
  return problems.length > 0 ? { problems } : { manifest };
}
