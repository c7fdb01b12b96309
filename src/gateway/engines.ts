import type { ApolloServer } from '@apollo/server';
import type { RequestContext, RuntimeSnapshot } from '../kernel/context.ts';
import type { GraphQLEngine } from './build-gateway.ts';

/**
 * The GraphQL engines (Apollo Gateway + Apollo Server) of the running gateway: one for the whole
 * graph, and one per distinct client contract. A contract is a graph of its own: its API schema
 * is what its clients validate and introspect against, so a hidden field is unknown there exactly
 * as a field that never existed, and its query planner and document cache are its own. Clients
 * with the same filter share an engine (engines are found by the contract's SDL hash), and a
 * reload that leaves a contract's SDL unchanged keeps its engine with its plans.
 *
 * Contract engines are built and started before the snapshot that needs them is swapped in
 * (`prepare`, called by the snapshot manager): a contract Apollo Gateway refuses fails the
 * reload, and every client stays on the last good graph. The whole graph's engine is swapped by
 * Apollo Gateway's own `update` (runtime/snapshot-manager.ts).
 */
export class GraphEngines {
  readonly #whole: GraphQLEngine;
  readonly #build: (supergraphSdl: string) => GraphQLEngine;
  readonly #current: () => RuntimeSnapshot | undefined;
  readonly #contracts = new Map<string, GraphQLEngine>();
  /** Contract engines no snapshot serving now needs, stopped once requests pinned to an older one are done. */
  readonly #retiring = new Map<string, NodeJS.Timeout>();

  constructor(options: {
    whole: GraphQLEngine;
    build: (supergraphSdl: string) => GraphQLEngine;
    current: () => RuntimeSnapshot | undefined;
  }) {
    this.#whole = options.whole;
    this.#build = options.build;
    this.#current = options.current;
  }

  /** The whole graph's Apollo Server: what BFF subgraphs' operations run on (gateway/graph-runner.ts). */
  get whole(): ApolloServer<RequestContext> {
    return this.#whole.apollo;
  }

  /** The Apollo Server of the request's graph: its client's contract, or the whole graph. */
  for(ctx: RequestContext): ApolloServer<RequestContext> {
    const key = ctx.client?.contract?.key;
    if (key === undefined) return this.#whole.apollo;
    const engine = this.#contracts.get(key);
    // `prepare` ran for every snapshot a request can pin before it served; retired engines
    // outlive the snapshots that used them by far more than any request.
    if (!engine) throw new Error(`internal: no engine for contract ${key.slice(0, 12)}`);
    return engine.apollo;
  }

  /** How many contract engines run (each holds a query planner and caches): for /readyz. */
  get contractCount(): number {
    return this.#contracts.size;
  }

  /** Builds and starts the engines of `snapshot`'s contracts that do not run yet. */
  async prepare(snapshot: RuntimeSnapshot): Promise<void> {
    const fresh: [string, GraphQLEngine][] = [];
    for (const [key, contract] of snapshot.contracts) {
      const retiring = this.#retiring.get(key);
      if (retiring) {
        clearTimeout(retiring);
        this.#retiring.delete(key);
      }
      if (!this.#contracts.has(key) && !fresh.some(([k]) => k === key))
        fresh.push([key, this.#build(contract.supergraphSdl)]);
    }
    const started = await Promise.allSettled(fresh.map(([, engine]) => engine.apollo.start()));
    const failed = started.find((outcome) => outcome.status === 'rejected');
    if (failed) {
      await Promise.allSettled(fresh.map(([, engine]) => engine.apollo.stop()));
      throw failed.reason;
    }
    for (const [key, engine] of fresh) this.#contracts.set(key, engine);
  }

  /**
   * After a swap (or a failed reload): engines the serving snapshot does not use are stopped
   * after `RETIRE_AFTER_MS`, unless a later snapshot needs them again first.
   */
  settle(): void {
    const serving = this.#current()?.contracts;
    for (const key of this.#contracts.keys()) {
      if (serving?.has(key) || this.#retiring.has(key)) continue;
      const timer = setTimeout(() => {
        this.#retiring.delete(key);
        if (this.#current()?.contracts.has(key)) return;
        const engine = this.#contracts.get(key);
        this.#contracts.delete(key);
        void engine?.apollo.stop();
      }, RETIRE_AFTER_MS);
      timer.unref();
      this.#retiring.set(key, timer);
    }
  }

  /** Starts the whole graph's engine; contract engines start in `prepare`, at each load. */
  async start(): Promise<void> {
    await this.#whole.apollo.start();
  }

  async stop(): Promise<void> {
    for (const timer of this.#retiring.values()) clearTimeout(timer);
    this.#retiring.clear();
    const engines = [this.#whole, ...this.#contracts.values()];
    this.#contracts.clear();
    await Promise.all(engines.map((engine) => engine.apollo.stop()));
  }
}

/** Long past any request's deadline: a request pinned to an older snapshot is done by then. */
const RETIRE_AFTER_MS = 60_000;
