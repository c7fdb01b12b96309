// Renders a kustomization (deploy/k8s) the way `kubectl kustomize` does, for exactly the features
// the repository's manifests use, so the manifest tests run offline with no kustomize binary
// (Debian bookworm's kubernetes-client, kubectl 1.20, embeds a kustomize too old for `labels`).
// A feature outside that set is refused with its name, never rendered differently: the manifests
// keep to what is checked.
//
// Supported, in kustomize's own order (resources and generators, then patches, then namespace,
// labels and images):
// - `resources`: YAML files (several documents each) and directories holding a kustomization;
// - `configMapGenerator` with `files` (`key=path` or the file's name) and `literals`, with
//   `generatorOptions.disableNameSuffixHash: true` (a hash suffix would need every reference to
//   the ConfigMap renamed, which this renderer does not do);
// - `patches` by `path`: strategic merge patches whose target is the patch's own kind and name;
//   maps merge, `null` deletes a key, and only the lists named in MERGE_BY_NAME merge (by
//   `name`); any other list in a patch is refused, since kustomize merges some lists by other
//   keys (ports by containerPort, volumeMounts by mountPath);
// - `namespace` on every namespaced object;
// - `labels` with `pairs` only (no `includeSelectors`, no `includeTemplates`): metadata labels;
// - `images`: `newName`, `newTag`, `digest` on containers and initContainers of pod templates.
import { readFile, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonMap = { [key: string]: Json };

const KNOWN_KEYS = new Set([
  'apiVersion',
  'kind',
  'resources',
  'namespace',
  'labels',
  'images',
  'configMapGenerator',
  'generatorOptions',
  'patches',
]);

/** Kinds with no namespace: kustomize's `namespace` leaves them alone. */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
]);

/** The lists a strategic merge patch merges by `name` (their patchMergeKey in the API). */
const MERGE_BY_NAME = new Set(['containers', 'initContainers', 'volumes', 'env']);

export class KustomizeError extends Error {}

/** The objects `kubectl kustomize <dir>` prints, in the order the kustomization lists them. */
export async function renderKustomization(dir: string): Promise<K8sObject[]> {
  const file = join(dir, 'kustomization.yaml');
  const k = parse(await readFile(file, 'utf8')) as JsonMap;
  for (const key of Object.keys(k))
    if (!KNOWN_KEYS.has(key))
      throw new KustomizeError(`${file}: \`${key}\` is a kustomize feature this renderer lacks`);

  const objects: K8sObject[] = [];
  for (const entry of strings(k.resources, `${file} resources`)) {
    if (/^[a-z]+:\/\//.test(entry) || isAbsolute(entry))
      throw new KustomizeError(`${file}: resource ${entry} is not a relative path`);
    const path = resolve(dir, entry);
    if ((await stat(path)).isDirectory()) objects.push(...(await renderKustomization(path)));
    else objects.push(...(await readObjects(path)));
  }
  objects.push(...(await generateConfigMaps(dir, file, k)));

  for (const patch of list(k.patches, `${file} patches`)) {
    const { path, ...rest } = patch as JsonMap;
    if (typeof path !== 'string' || Object.keys(rest).length > 0)
      throw new KustomizeError(`${file}: a patch is a \`path\` and nothing else here`);
    const [body, ...more] = await readObjects(resolve(dir, path));
    if (!body || more.length > 0)
      throw new KustomizeError(`${file}: ${path} must hold exactly one patch`);
    const target = objects.findIndex(
      (o) => o.kind === body.kind && o.metadata.name === body.metadata.name,
    );
    if (target < 0)
      throw new KustomizeError(`${path}: no ${body.kind} ${body.metadata.name} to patch`);
    objects[target] = mergePatch(
      objects[target] as unknown as Json,
      body as unknown as Json,
      path,
    ) as unknown as K8sObject;
  }

  if (k.namespace !== undefined) {
    if (typeof k.namespace !== 'string') throw new KustomizeError(`${file}: namespace`);
    for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
  }
  for (const entry of list(k.labels, `${file} labels`)) {
    const { pairs, ...rest } = entry as JsonMap;
    if (Object.keys(rest).length > 0 || !isMap(pairs))
      throw new KustomizeError(`${file}: labels support \`pairs\` only (metadata labels)`);
    for (const o of objects)
      o.metadata.labels = { ...o.metadata.labels, ...(pairs as Record<string, string>) };
  }
  for (const image of list(k.images, `${file} images`)) applyImage(objects, image as JsonMap, file);

  const seen = new Set<string>();
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    if (seen.has(id)) throw new KustomizeError(`${file}: ${id} is defined twice`);
    seen.add(id);
  }
  return objects;
}

async function readObjects(path: string): Promise<K8sObject[]> {
  const docs = parseAllDocuments(await readFile(path, 'utf8'));
  const objects: K8sObject[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new KustomizeError(`${path}: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) continue;
    const o = value as K8sObject;
    if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string' || !o.metadata?.name)
      throw new KustomizeError(`${path}: an object needs apiVersion, kind and metadata.name`);
    objects.push(o);
  }
  return objects;
}

async function generateConfigMaps(dir: string, file: string, k: JsonMap): Promise<K8sObject[]> {
  const generators = list(k.configMapGenerator, `${file} configMapGenerator`);
  if (generators.length === 0) return [];
  const options = (k.generatorOptions ?? {}) as JsonMap;
  const { disableNameSuffixHash, ...otherOptions } = options;
  if (disableNameSuffixHash !== true || Object.keys(otherOptions).length > 0)
    throw new KustomizeError(
      `${file}: generators need generatorOptions.disableNameSuffixHash: true and no other option here`,
    );
  const maps: K8sObject[] = [];
  for (const g of generators) {
    const { name, files, literals, ...rest } = g as JsonMap;
    if (typeof name !== 'string' || Object.keys(rest).length > 0)
      throw new KustomizeError(`${file}: a configMapGenerator has a name, files and literals only`);
    const data: Record<string, string> = {};
    for (const entry of strings(literals, `${file} literals`)) {
      const at = entry.indexOf('=');
      data[entry.slice(0, at)] = entry.slice(at + 1);
    }
    for (const entry of strings(files, `${file} files`)) {
      const [key, path] = entry.includes('=')
        ? (entry.split('=', 2) as [string, string])
        : [basename(entry), entry];
      if (isAbsolute(path) || path.split(/[\\/]/).includes('..'))
        throw new KustomizeError(
          `${file}: ${path} is outside the kustomization (kustomize refuses it)`,
        );
      data[key] = await readFile(resolve(dir, path), 'utf8');
    }
    maps.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data });
  }
  return maps;
}

function applyImage(objects: K8sObject[], image: JsonMap, file: string): void {
  const { name, newName, newTag, digest, ...rest } = image;
  if (typeof name !== 'string' || Object.keys(rest).length > 0)
    throw new KustomizeError(`${file}: images support name, newName, newTag and digest`);
  for (const o of objects) {
    const pod = ((o.spec as JsonMap | undefined)?.template as JsonMap | undefined)?.spec as
      JsonMap | undefined;
    if (!pod) continue;
    for (const key of ['containers', 'initContainers']) {
      for (const container of (pod[key] ?? []) as JsonMap[]) {
        const ref = String(container.image);
        const [, repo = '', tag = '', at = ''] = /^(.*?)(?::([^:/@]+))?(?:@(.+))?$/.exec(ref) ?? [];
        if (repo !== name) continue;
        const nextName = typeof newName === 'string' ? newName : repo;
        if (typeof digest === 'string') container.image = `${nextName}@${digest}`;
        else if (typeof newTag === 'string') container.image = `${nextName}:${newTag}`;
        else container.image = `${nextName}${tag ? `:${tag}` : ''}${at ? `@${at}` : ''}`;
      }
    }
  }
}

/** A strategic merge patch, limited as the file's header says. */
export function mergePatch(target: Json, patch: Json, where: string, key = ''): Json {
  if (!isMap(patch) || !isMap(target)) {
    if (Array.isArray(patch)) {
      if (!MERGE_BY_NAME.has(key))
        throw new KustomizeError(
          `${where}: the list \`${key}\` in a patch (only ${[...MERGE_BY_NAME].join(', ')} merge here)`,
        );
      const merged = [...(Array.isArray(target) ? target : [])];
      for (const item of patch) {
        if (!isMap(item) || typeof item.name !== 'string')
          throw new KustomizeError(`${where}: items of \`${key}\` need a name`);
        const at = merged.findIndex((m) => isMap(m) && m.name === item.name);
        if (at < 0) merged.push(item);
        else merged[at] = mergePatch(merged[at] as Json, item, where);
      }
      return merged;
    }
    return patch;
  }
  const out: JsonMap = { ...target };
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) throw new KustomizeError(`${where}: the directive ${k}`);
    if (v === null) delete out[k];
    // A key the target lacks takes the patch's value whole, as in kustomize.
    else out[k] = k in target ? mergePatch(target[k] as Json, v, where, k) : v;
  }
  return out;
}

function isMap(value: unknown): value is JsonMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function list(value: Json | undefined, what: string): Json[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new KustomizeError(`${what} must be a list`);
  return value;
}

function strings(value: Json | undefined, what: string): string[] {
  const items = list(value, what);
  if (!items.every((i) => typeof i === 'string'))
    throw new KustomizeError(`${what} must be a list of strings`);
  return items as string[];
}
