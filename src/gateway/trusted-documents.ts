import type { PersistedManifest } from '../config/manifest.ts';
import type { PersistedDocumentsConfig } from '../config/schema.ts';
import { ErrorCode, GatewayError } from '../kernel/errors.ts';

export interface TrustedDocuments {
  readonly settings: PersistedDocumentsConfig;
  readonly manifest: PersistedManifest;
}

/** A request's GraphQL parameters: the POST body, or a GET query string's (JSON as text). */
export type GraphQLParams = Record<string, unknown>;

const bodiesOf = new WeakMap<PersistedManifest, ReadonlySet<string>>();

/**
 * Settles which document a request runs, before Apollo Server sees it, from the snapshot's
 * `persisted_documents`; returns the parameters to hand on (the same object when nothing
 * changes) or throws.
 * - `documentId` (GraphQL over HTTP, persisted documents proposal:
 *   https://github.com/graphql/graphql-over-http/blob/main/rfcs/PersistedDocuments.md) names a
 *   manifest entry; the `sha256:` prefix the proposal recommends is accepted too.
 * - `extensions.persistedQuery.sha256Hash` without `query` is served from the manifest first,
 *   then, when `apq` is on, left to Apollo Server's APQ cache (a miss there is the APQ protocol's
 *   PERSISTED_QUERY_NOT_FOUND, 200, asking the client to register it).
 * - A `query` is refused unless listed when `persisted_only`; with `apq` off its hash, if any, is
 *   dropped so Apollo Server does not register it.
 * Hash mismatches and bad versions are persisted-query.ts's, checked before this.
 */
export function resolveDocument(params: GraphQLParams, trusted: TrustedDocuments): GraphQLParams {
  const { settings, manifest } = trusted;
  const { query, documentId } = params;
  const extensions = extensionsOf(params.extensions);
  const hash = (extensions?.persistedQuery as { sha256Hash?: unknown } | undefined)?.sha256Hash;
  if (documentId !== undefined) {
    if (typeof documentId !== 'string' || documentId === '')
      throw new GatewayError(ErrorCode.BAD_REQUEST, 'documentId must be a non-empty string.');
    if (query !== undefined)
      throw new GatewayError(
        ErrorCode.BAD_REQUEST,
        'Send either documentId or query, not both: a documentId names the whole document.',
      );
    const body = manifest.get(documentId) ?? manifest.get(documentId.replace(/^sha256:/, ''));
    if (body === undefined) throw notInList(documentId);
    const { documentId: _id, ...rest } = params;
    return { ...rest, query: body };
  }
  if (typeof hash === 'string' && query === undefined) {
    const body = manifest.get(hash);
    if (body !== undefined) return withExtensions({ ...params, query: body }, without(extensions));
    if (!settings.apq) throw notInList(hash);
    return params;
  }
  if (typeof query !== 'string') return params;
  if (settings.persisted_only && !bodies(manifest).has(query))
    throw new GatewayError(
      ErrorCode.QUERY_NOT_IN_SAFELIST,
      'This endpoint runs only documents in its persisted document list: send a listed document or its id.',
    );
  if (hash !== undefined && !settings.apq) return withExtensions(params, without(extensions));
  return params;
}

function notInList(id: string): GatewayError {
  return new GatewayError(
    ErrorCode.PERSISTED_QUERY_NOT_IN_LIST,
    `No persisted document has the id ${JSON.stringify(id)}: rebuild the client's manifest or send the document.`,
  );
}

function bodies(manifest: PersistedManifest): ReadonlySet<string> {
  let set = bodiesOf.get(manifest);
  if (!set) bodiesOf.set(manifest, (set = new Set(manifest.values())));
  return set;
}

/**
 * A GET request's parameters after resolution, as a query string: `search` itself when nothing
 * changed.
 */
export function resolveSearch(search: string, trusted: TrustedDocuments): string {
  const params: GraphQLParams = Object.fromEntries(new URLSearchParams(search));
  const resolved = resolveDocument(params, trusted);
  if (resolved === params) return search;
  const out = new URLSearchParams();
  for (const [name, value] of Object.entries(resolved))
    out.set(name, typeof value === 'string' ? value : JSON.stringify(value));
  return `?${out.toString()}`;
}

function withExtensions(params: GraphQLParams, extensions: unknown): GraphQLParams {
  const { extensions: _old, ...rest } = params;
  return extensions === undefined ? rest : { ...rest, extensions };
}

/** `extensions` without `persistedQuery`, or undefined when nothing else is left. */
function without(extensions: Record<string, unknown> | undefined): unknown {
  const { persistedQuery: _pq, ...rest } = extensions ?? {};
  return Object.keys(rest).length > 0 ? rest : undefined;
}

function extensionsOf(value: unknown): Record<string, unknown> | undefined {
  let parsed = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : undefined;
}
