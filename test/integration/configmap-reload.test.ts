import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { on } from 'node:events';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ReloadOutcome } from '../../src/runtime/snapshot-manager.ts';
import { SHOP } from '../fixtures/graphs/shop.ts';
import { get, post, startSubgraphs, startTestGateway, type TestGateway } from '../helpers/env.ts';

/**
 * A ConfigMap mounted as a directory, as the kubelet lays it out: the files live in a
 * timestamped directory, `..data` links to it, and each key is a link through `..data`. An
 * update writes a new timestamped directory, points `..data_tmp` at it and renames that over
 * `..data` (one atomic swap for every file), then removes the old directory. Nothing named
 * `supergraph.yaml` changes in the mounted directory itself, so a watcher that waits for that
 * name never reloads (deploy/k8s mounts the gateway's config this way).
 */
class ConfigMapVolume {
  #generation = 0;
  #current = '';
  readonly dir: string;
  private constructor(dir: string) {
    this.dir = dir;
  }

  static async create(files: Record<string, string>): Promise<ConfigMapVolume> {
    const volume = new ConfigMapVolume(await mkdtemp(join(tmpdir(), 'gateway-configmap-')));
    await volume.#writeGeneration(files);
    await symlink(volume.#current, join(volume.dir, '..data'));
    for (const name of Object.keys(files))
      await symlink(join('..data', name), join(volume.dir, name));
    return volume;
  }

  /** What the kubelet does when the ConfigMap changes (same keys). */
  async update(files: Record<string, string>): Promise<void> {
    const previous = this.#current;
    await this.#writeGeneration(files);
    await symlink(this.#current, join(this.dir, '..data_tmp'));
    await rename(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    await rm(join(this.dir, previous), { recursive: true });
  }

  async #writeGeneration(files: Record<string, string>): Promise<void> {
    this.#generation += 1;
    this.#current = `..2026_12_06_17_00_0${this.#generation}.00000000${this.#generation}`;
    await mkdir(join(this.dir, this.#current));
    for (const [name, text] of Object.entries(files))
      await writeFile(join(this.dir, this.#current, name), text);
  }

  remove(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true });
  }
}

describe('hot reload from a ConfigMap volume', () => {
  let subgraphs: Awaited<ReturnType<typeof startSubgraphs>>;
  let volume: ConfigMapVolume;
  let gateway: TestGateway;
  let files: Record<string, string>;

  const configOf = (names: readonly string[]) =>
    stringify({
      federation_version: '=2.3.0',
      subgraphs: Object.fromEntries(
        subgraphs.servers
          .filter((s) => names.includes(s.name))
          .map((s) => [s.name, { routing_url: s.url, schema: { file: `./${s.name}.graphql` } }]),
      ),
    });
  // The reload that changed the graph, or a failure naming what did not happen (a missed swap
  // never reloads). The swap is several directory events; one that lands past the debounce
  // reloads again, unchanged, and is passed over.
  const nextChange = async () => {
    const timeout = AbortSignal.timeout(5_000);
    try {
      for await (const [outcome] of on(gateway.running.app.manager, 'reload', { signal: timeout }))
        if (!(outcome as ReloadOutcome).ok || (outcome as { changed: boolean }).changed)
          return outcome as ReloadOutcome;
    } catch {
      // Aborted: below.
    }
    throw new Error('no reload within 5s of swapping ..data: the watcher missed the swap');
  };
  const readyz = async () => (await get(`${gateway.adminOrigin}/readyz`)).json;

  before(async () => {
    subgraphs = await startSubgraphs(SHOP);
    files = Object.fromEntries(subgraphs.servers.map((s) => [`${s.name}.graphql`, s.sdl]));
    files['supergraph.yaml'] = configOf(subgraphs.servers.map((s) => s.name));
    volume = await ConfigMapVolume.create(files);
    gateway = await startTestGateway({ configFile: join(volume.dir, 'supergraph.yaml') });
  });

  after(async () => {
    await gateway.close();
    await subgraphs.close();
    await volume.remove();
  });

  test('a swapped supergraph.yaml is served without a restart', async () => {
    const before = await readyz();
    assert.deepEqual(before.supergraph.subgraphs, ['accounts', 'inventory', 'products', 'reviews']);
    const reloaded = nextChange();
    files['supergraph.yaml'] = configOf(['accounts', 'inventory', 'products']);
    await volume.update(files);
    assert.equal((await reloaded).ok, true);
    const after = await readyz();
    assert.deepEqual(after.supergraph.subgraphs, ['accounts', 'inventory', 'products']);
    const res = await post(gateway.url, { query: '{ latestReviews { id } }' });
    assert.equal(res.json.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
  });

  test('a swapped schema file is served without a restart', async () => {
    const users = await post(gateway.url, { query: '{ users { id } }' });
    assert.equal(users.json.data.users.length, 3);
    const reloaded = nextChange();
    const accounts = files['accounts.graphql'] as string;
    files['accounts.graphql'] = accounts.replace(' users: [User!]!', '');
    assert.notEqual(files['accounts.graphql'], accounts);
    await volume.update(files);
    assert.equal((await reloaded).ok, true);
    const res = await post(gateway.url, { query: '{ users { id } }' });
    assert.equal(res.json.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
    const me = await post(gateway.url, { query: '{ me { name } }' });
    assert.deepEqual(me.json, { data: { me: { name: 'Ada Lovelace' } } });
  });
});
