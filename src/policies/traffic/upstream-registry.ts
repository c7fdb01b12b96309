import { lookup } from 'node:dns/promises';
import type { Clock } from '../../kernel/clock.ts';
import type { HealthChecks, HealthTarget } from './health-check.ts';
import {
  hostnameOf,
  joinHostPort,
  Upstream,
  type InstanceState,
  type UpstreamEvent,
  type UpstreamSpec,
} from './upstreams.ts';

/**
 * Every backend's upstream, for the running gateway: created when the served config first names
 * a backend, kept (with its instances' records) while configs go on naming it, dropped when
 * one no longer does. What runs in the background for the served config only (DNS resolution,
 * active health checks) follows `follow`.
 */

/** Active health checks as the registry drives them (health-check.ts's `HealthChecks`). */
export type HealthCheckRunner = Pick<HealthChecks, 'set' | 'describe' | 'close'>;

/** One backend's instances as /readyz shows them. */
export interface UpstreamReport {
  readonly address: string;
  readonly state: InstanceState;
  readonly inFlight: number;
  readonly ejections: number;
  /** Milliseconds until an ejected instance is re-admitted. */
  readonly ejectedForMs?: number;
}

export interface UpstreamsOptions {
  readonly clock: Clock;
  readonly random?: () => number;
  readonly onEvent?: (event: UpstreamEvent) => void;
  /** Resolves a name to every address (`dns.lookup` with `all`). */
  readonly resolve?: (hostname: string) => Promise<string[]>;
  readonly health?: HealthCheckRunner;
}

const systemResolve = async (hostname: string): Promise<string[]> =>
  (await lookup(hostname, { all: true })).map((a) => a.address);

export class Upstreams {
  readonly #byKey = new Map<string, Upstream>();
  readonly #options: UpstreamsOptions;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #closed = false;

  constructor(options: UpstreamsOptions) {
    this.#options = options;
  }

  /** The upstream of a call site's address; undefined for one the config does not name. */
  of(key: string): Upstream | undefined {
    return this.#byKey.get(key);
  }

  /**
   * The served config's backends: settings replaced, instance lists placed (records kept by
   * address), DNS resolution and health checks started or stopped to match.
   */
  follow(specs: readonly UpstreamSpec[]): void {
    const next = new Set<string>();
    const emit = this.#options.onEvent ?? (() => {});
    for (const spec of specs) {
      if (next.has(spec.key)) continue;
      next.add(spec.key);
      let upstream = this.#byKey.get(spec.key);
      const resolvedBefore = upstream?.spec.dnsRefreshMs !== undefined;
      if (!upstream) {
        upstream = new Upstream(
          spec,
          this.#options.clock,
          this.#options.random ?? Math.random,
          emit,
        );
        this.#byKey.set(spec.key, upstream);
      }
      const sameNames = upstream.spec.instances.join() === spec.instances.join();
      upstream.spec = spec;
      // Resolved addresses stay until the next resolution, as long as the names are the same.
      if (!(
        resolvedBefore &&
        spec.dnsRefreshMs !== undefined &&
        sameNames &&
        upstream.instances.length
      ))
        upstream.place(spec.instances);
      this.#schedule(upstream);
    }
    for (const [key, upstream] of this.#byKey)
      if (!next.has(key)) {
        for (const instance of upstream.instances) upstream.forget(instance);
        clearTimeout(this.#timers.get(key));
        this.#timers.delete(key);
        this.#byKey.delete(key);
      }
    this.#checkHealth();
  }

  /**
   * Whether no instance of the backend at this key takes calls now: a route passes over such a
   * backend while another of its backends will do.
   */
  refuses(key: string): boolean {
    const upstream = this.#byKey.get(key);
    return upstream !== undefined && !upstream.instances.some((i) => upstream.available(i));
  }

  /** The active checks' verdict on one instance (the checker's `onChange`). */
  markHealth(key: string, address: string, healthy: boolean): void {
    const upstream = this.#byKey.get(key);
    const instance = upstream?.instances.find((i) => i.address === address);
    if (upstream && instance) upstream.setHealthy(instance, healthy);
  }

  /** Every backend's instances, by backend name, for /readyz. */
  describe(): Record<string, { key: string; instances: UpstreamReport[] }> {
    const now = this.#options.clock.now();
    const out: Record<string, { key: string; instances: UpstreamReport[] }> = {};
    for (const upstream of this.#byKey.values()) {
      out[upstream.spec.name] = {
        key: upstream.spec.key,
        instances: upstream.instances.map((i) => {
          upstream.available(i);
          return {
            address: i.address,
            state: i.state,
            inFlight: i.inFlight,
            ejections: i.ejections,
            ...(i.ejected ? { ejectedForMs: Math.round(i.ejectedUntil - now) } : {}),
          };
        }),
      };
    }
    return out;
  }

  /** Every instance's state, for metrics that show each backend from the start. */
  *instances(): Iterable<{ backend: string; instance: string; state: InstanceState }> {
    for (const upstream of this.#byKey.values())
      for (const i of upstream.instances)
        yield { backend: upstream.spec.name, instance: i.address, state: i.state };
  }

  close(): void {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    for (const upstream of this.#byKey.values())
      for (const instance of upstream.instances) clearTimeout(instance.timer);
    this.#options.health?.close();
  }

  /** Resolves a backend's names now (when its config asks) and again every refresh. */
  #schedule(upstream: Upstream): void {
    const { key, dnsRefreshMs } = upstream.spec;
    clearTimeout(this.#timers.get(key));
    this.#timers.delete(key);
    if (dnsRefreshMs === undefined || this.#closed) return;
    const run = async () => {
      await this.#resolve(upstream);
      if (this.#closed || this.#byKey.get(key) !== upstream) return;
      const timer = setTimeout(run, upstream.spec.dnsRefreshMs ?? 30_000);
      timer.unref();
      this.#timers.set(key, timer);
    };
    void run();
  }

  async #resolve(upstream: Upstream): Promise<void> {
    const resolve = this.#options.resolve ?? systemResolve;
    const spec = upstream.spec;
    try {
      const lists = await Promise.all(
        spec.instances.map(async (instance) => {
          const port = instance.slice(instance.lastIndexOf(':') + 1);
          const addresses = await resolve(hostnameOf(instance));
          return addresses.map((a) => joinHostPort(a, port));
        }),
      );
      const addresses = lists.flat();
      if (addresses.length === 0) throw new Error('no address');
      if (upstream.spec !== spec || this.#closed) return;
      const before = upstream.instances.map((i) => i.address).join();
      upstream.place(addresses);
      if (before !== addresses.join()) {
        this.#options.onEvent?.({ type: 'resolved', backend: spec.name, addresses });
        this.#checkHealth();
      }
    } catch (error) {
      // The last addresses go on serving: a resolver hiccup must not empty a backend.
      this.#options.onEvent?.({ type: 'resolve_failed', backend: spec.name, error });
    }
  }

  /** Hands every instance of every backend with checks to the health checker. */
  #checkHealth(): void {
    const health = this.#options.health;
    if (!health) return;
    const targets: HealthTarget[] = [];
    for (const upstream of this.#byKey.values()) {
      const { spec } = upstream;
      const check = spec.healthCheck;
      if (!check) {
        for (const i of upstream.instances) upstream.setHealthy(i, true);
        upstream.checkedSince = () => false;
        continue;
      }
      upstream.checkedSince = (instance, since) => {
        const last = health.describe(spec.key, instance.address);
        return last !== undefined && last.healthy && last.lastCheckAt > since;
      };
      for (const i of upstream.instances)
        targets.push({
          key: spec.key,
          address: i.address,
          ...(spec.protocol === 'http'
            ? { scheme: new URL(spec.key).protocol === 'https:' ? 'https' : 'http' }
            : {}),
          host: spec.host,
          ...(spec.tls ? { tls: i.tlsFor(spec.tls, spec.host) } : {}),
          settings: {
            kind: spec.protocol,
            path: check.path,
            service: check.service,
            intervalMs: check.interval,
            timeoutMs: check.timeout,
            healthyThreshold: check.healthy_threshold,
            unhealthyThreshold: check.unhealthy_threshold,
          },
        });
    }
    health.set(targets);
  }
}
