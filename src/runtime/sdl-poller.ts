import type { Logger } from 'pino';
import { introspect } from '../composition/from-config.ts';

/** A subgraph whose SDL is read from the running service, as the served graph holds it. */
export interface PolledSubgraph {
  readonly name: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** 0: not polled. */
  readonly pollMs: number;
  /** The SDL the served graph was composed from. */
  readonly sdl: string;
}

/**
 * Reads each `subgraph_url` subgraph's SDL again every `schema.poll_interval`, as Apollo's
 * IntrospectAndCompose polls, and asks for a reload when one differs from what the served graph
 * was composed from: the reload composes anew, and a change that does not compose keeps the last
 * good graph (the manager's rule for every reload). A subgraph that does not answer is tried at
 * the next interval; an SDL whose reload failed is not tried again until it changes, so a bad
 * schema costs one failed reload, not one per interval.
 */
export class SdlPoller {
  readonly #reload: () => void;
  readonly #logger: Logger;
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Per subgraph, the last SDL that asked for a reload. */
  readonly #asked = new Map<string, string>();
  #generation = 0;

  constructor(reload: () => void, logger: Logger) {
    this.#reload = reload;
    this.#logger = logger;
  }

  /** Polls what this served graph holds, in place of what the previous one did. */
  follow(subgraphs: readonly PolledSubgraph[]): void {
    this.stop();
    const generation = ++this.#generation;
    for (const subgraph of subgraphs) if (subgraph.pollMs > 0) this.#poll(subgraph, generation);
  }

  stop(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #poll(subgraph: PolledSubgraph, generation: number): void {
    const timer = setTimeout(async () => {
      this.#timers.delete(timer);
      let sdl: string | undefined;
      try {
        sdl = await introspect(subgraph.name, subgraph.url, subgraph.headers);
      } catch (error) {
        this.#logger.debug({ subgraph: subgraph.name, err: error }, 'subgraph SDL poll failed');
      }
      if (generation !== this.#generation) return;
      if (sdl !== undefined && sdl !== subgraph.sdl && sdl !== this.#asked.get(subgraph.name)) {
        this.#asked.set(subgraph.name, sdl);
        this.#logger.info({ subgraph: subgraph.name }, 'subgraph SDL changed; reloading');
        this.#reload();
      }
      this.#poll(subgraph, generation);
    }, subgraph.pollMs);
    timer.unref();
    this.#timers.add(timer);
  }
}
