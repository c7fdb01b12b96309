import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { SdlPoller } from './sdl-poller.ts';
import { basename, dirname } from 'node:path';
import type { Logger } from 'pino';
import type { SupergraphSdlHook } from '@apollo/gateway';
import type { RuntimeDeps, RuntimeSnapshot } from './snapshot.ts';
import type { SupergraphSource } from './sources.ts';
import { ensureError } from '../kernel/errors.ts';

export type ReloadOutcome =
  { ok: true; hash: string; changed: boolean } | { ok: false; error: Error };

export interface ReloadError {
  message: string;
  at: string;
}

/**
 * What serves the graphs of a snapshot besides Apollo Gateway's `update` (gateway/engines.ts):
 * `prepare` readies the engines a snapshot needs before it is swapped in, and may refuse it;
 * `settle` runs once the serving snapshot is decided, after a reload succeeds or fails.
 */
export interface SnapshotGraphs {
  prepare(next: RuntimeSnapshot): Promise<void>;
  settle(): void;
}

/** Editors save in bursts (write, chmod, rename); one reload per burst is enough. */
const DEBOUNCE_MS = 75;

/**
 * Owns the current runtime snapshot: the first load, file watching, and atomic swaps (requests
 * pin the snapshot current when they arrive). A reload that
 * fails (bad YAML, invalid config, composition errors, a supergraph the gateway rejects) changes
 * nothing that is served; it is logged with its locations and kept as `lastError` for /readyz.
 * The swap itself is Apollo Gateway's `update()`: requests already executing keep the query plan
 * and data sources they started with.
 */
export class SnapshotManager extends EventEmitter<{ reload: [ReloadOutcome] }> {
  readonly #source: SupergraphSource;
  readonly #logger: Logger;
  readonly #watchEnabled: boolean;
  readonly #deps: RuntimeDeps;
  #current: RuntimeSnapshot | undefined;
  #lastError: ReloadError | undefined;
  #update: ((sdl: string) => void) | undefined;
  #graphs: SnapshotGraphs | undefined;
  #watchers = new Map<string, FSWatcher>();
  #timer: NodeJS.Timeout | undefined;
  #reloading: Promise<void> | undefined;
  #pending = false;
  #stopped = false;
  readonly #poller: SdlPoller;

  constructor(
    source: SupergraphSource,
    logger: Logger,
    options: { watch: boolean; deps: RuntimeDeps },
  ) {
    super();
    this.#source = source;
    this.#logger = logger;
    this.#watchEnabled = options.watch;
    this.#deps = options.deps;
    this.#poller = new SdlPoller(() => void this.reload(), logger);
  }

  get current(): RuntimeSnapshot | undefined {
    return this.#current;
  }

  get lastError(): ReloadError | undefined {
    return this.#lastError;
  }

  /** Registers what serves the contracts' graphs; before the first load. */
  serveWith(graphs: SnapshotGraphs): void {
    this.#graphs = graphs;
  }

  /** The first load: unlike a reload, its failure is fatal (there is nothing to keep serving). */
  async load(): Promise<RuntimeSnapshot> {
    const snapshot = await this.#source.load(this.#deps);
    await this.#prepare(snapshot);
    this.#logHints(snapshot);
    this.#current = snapshot;
    return snapshot;
  }

  /** The hook ApolloGateway calls once at load; it hands us the `update` function for swaps. */
  readonly supergraphSdl: SupergraphSdlHook = async ({ update }) => {
    const snapshot = this.#current ?? (await this.load());
    this.#update = update;
    if (this.#watchEnabled) this.#follow(snapshot);
    return { supergraphSdl: snapshot.gatewaySdl, cleanup: async () => this.stop() };
  };

  /** Reloads now (also what a file change triggers). Concurrent calls coalesce into one more run. */
  reload(): Promise<void> {
    if (this.#reloading) {
      this.#pending = true;
      return this.#reloading;
    }
    this.#reloading = this.#reloadOnce().finally(() => {
      this.#reloading = undefined;
      if (this.#pending && !this.#stopped) {
        this.#pending = false;
        void this.reload();
      }
    });
    return this.#reloading;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#poller.stop();
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
  }

  /** What triggers the next reload: the snapshot's files changing, its polled subgraphs' SDL. */
  #follow(snapshot: RuntimeSnapshot): void {
    this.#watch(snapshot.watchFiles);
    this.#poller.follow(snapshot.polledSubgraphs);
  }

  async #reloadOnce(): Promise<void> {
    let outcome: ReloadOutcome;
    try {
      const next = await this.#source.load(this.#deps);
      await this.#prepare(next);
      const previous = this.#current;
      const changed = previous?.supergraph.hash !== next.supergraph.hash;
      // The new adapters go in first so the first plan on the new graph finds them. The gateway
      // then validates the supergraph and rebuilds its planner; if it throws, everything that
      // is served goes back to the previous snapshot.
      this.#current = next;
      try {
        if (changed) this.#update?.(next.gatewaySdl);
      } catch (error) {
        this.#current = previous;
        next.credentials.close();
        throw error;
      }
      if (previous) retire(previous);
      this.#graphs?.settle();
      if (previous && previous.startupSettings !== next.startupSettings) {
        this.#logger.warn(
          'server, log, metrics, tracing, grpc_server, auth.identity, limits.store or redis settings changed in the config; they apply at the next restart',
        );
      }
      this.#logHints(next);
      this.#current = next;
      this.#lastError = undefined;
      if (this.#watchEnabled && !this.#stopped) this.#follow(next);
      outcome = { ok: true, hash: next.supergraph.hash, changed };
      this.#logger.info(
        { hash: next.supergraph.hash, changed },
        changed ? 'supergraph reloaded' : 'config reloaded; supergraph unchanged',
      );
    } catch (caught) {
      const error = ensureError(caught);
      this.#graphs?.settle();
      this.#lastError = { message: error.message, at: new Date().toISOString() };
      outcome = { ok: false, error };
      this.#logger.error(
        `reload failed; still serving supergraph ${this.#current?.supergraph.hash ?? '(none)'}\n${error.message}`,
      );
    }
    this.emit('reload', outcome);
  }

  /** Readies the snapshot's contract engines; if that fails, the snapshot is let go. */
  async #prepare(snapshot: RuntimeSnapshot): Promise<void> {
    try {
      await this.#graphs?.prepare(snapshot);
    } catch (error) {
      snapshot.credentials.close();
      throw error;
    }
  }

  /**
   * Watches the directories rather than the files: editors and `git checkout` replace a file by
   * renaming over it, which ends a watch on the old inode. A Kubernetes ConfigMap volume changes
   * none of the names it mounts: each is a link through `..data`, and an update renames a new
   * `..data` over the old one, so a change to a `..` entry counts too (as `watchFiles` in
   * server/edge.ts does for certificates).
   */
  #watch(files: readonly string[]): void {
    const wanted = new Map<string, Set<string>>();
    for (const file of files) {
      const dir = dirname(file);
      const names = wanted.get(dir) ?? new Set<string>();
      names.add(basename(file));
      wanted.set(dir, names);
    }
    for (const [dir, watcher] of this.#watchers) {
      if (!wanted.has(dir)) {
        watcher.close();
        this.#watchers.delete(dir);
      }
    }
    for (const [dir, names] of wanted) {
      this.#watchers.get(dir)?.close();
      try {
        const watcher = watch(dir, { persistent: false }, (_event, name) => {
          if (name === null || names.has(String(name)) || String(name).startsWith('..'))
            this.#schedule();
        });
        watcher.on('error', (error) => this.#logger.warn({ err: error, dir }, 'file watch failed'));
        this.#watchers.set(dir, watcher);
      } catch (error) {
        this.#logger.warn({ err: error, dir }, 'cannot watch directory; hot reload is off for it');
      }
    }
  }

  #schedule(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.reload(), DEBOUNCE_MS);
  }

  #logHints(snapshot: RuntimeSnapshot): void {
    for (const hint of snapshot.hints) {
      this.#logger.warn(
        { code: hint.code, locations: hint.locations },
        `composition hint: ${hint.message}`,
      );
    }
  }
}

/**
 * A replaced snapshot lets go of its verifiers' shared JWKS caches once no request can still be
 * authenticating with it (requests pin their snapshot when they arrive and authenticate first),
 * so an issuer removed from the config stops being fetched while one still listed keeps its keys.
 */
function retire(snapshot: RuntimeSnapshot): void {
  setTimeout(() => snapshot.credentials.close(), RETIRE_AFTER_MS).unref();
}

const RETIRE_AFTER_MS = 60_000;
