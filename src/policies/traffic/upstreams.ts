import { isIP } from 'node:net';
import type {
  BalancePolicy,
  HealthCheckConfig,
  OutlierDetectionConfig,
  RetryConfig,
} from '../../config/schema.ts';
import type { Clock } from '../../kernel/clock.ts';
import { ErrorCode, GatewayError } from '../../kernel/errors.ts';
import type { ChannelTls } from '../../kernel/outbound.ts';

/**
 * Upstreams: what the gateway knows about each backend's instances, and the rules that use it
 * (Envoy's cluster: its hosts, its load balancer, its outlier detector and its retry budget).
 *
 * A backend is found by the address its call sites name (an HTTP origin, a gRPC `host:port`), so
 * a subgraph and a transcoded service over one gRPC address share one view of its instances.
 * The state (calls in flight, failures, ejections, health) outlives snapshots; the settings
 * follow the config that is served (`follow`), like the gateway's connection pools.
 *
 * One concept decides whether an instance takes calls: it is *available* unless ejected by
 * outlier detection or failed by active health checks. A backend with no available instance
 * fails its calls at once with UPSTREAM_CIRCUIT_OPEN: what the circuit breaker used to do, now
 * the single-instance case of ejection.
 */

/** A backend as the config describes it: built per snapshot (runtime/upstream-specs.ts). */
export interface UpstreamSpec {
  /** What call sites name: an HTTP origin (`http://host:port`) or a gRPC `host:port`. */
  readonly key: string;
  /** The backend's name in the config (a subgraph, route, transcode entry or gRPC-port service). */
  readonly name: string;
  readonly protocol: 'http' | 'grpc';
  /** The logical `host[:port]`: the Host header and TLS server name for every instance. */
  readonly host: string;
  /** `host:port` of every instance (names resolved again when `dnsRefreshMs` is set). */
  readonly instances: readonly string[];
  readonly balance: BalancePolicy;
  readonly outlier: OutlierDetectionConfig;
  readonly retries: RetryConfig;
  readonly healthCheck: HealthCheckConfig | undefined;
  readonly dnsRefreshMs: number | undefined;
  /** A gRPC backend's TLS, for its health checks. */
  readonly tls?: ChannelTls | undefined;
}

export type InstanceState = 'healthy' | 'ejected' | 'unhealthy';

/** Why an instance changed state: for the log line and the ejection counter. */
export type InstanceReason =
  | 'consecutive_failures'
  | 'failure_rate'
  | 'ejection_ended'
  | 'health_check'
  | 'health_check_passed'
  /** The config (or DNS) added the instance, or took it away: metrics show every instance. */
  | 'added'
  | 'removed';

export type UpstreamEvent =
  | {
      readonly type: 'instance';
      readonly backend: string;
      readonly instance: string;
      readonly state: InstanceState;
      readonly reason: InstanceReason;
      /** How long an ejection lasts. */
      readonly forMs?: number;
    }
  | { readonly type: 'resolved'; readonly backend: string; readonly addresses: readonly string[] }
  | { readonly type: 'resolve_failed'; readonly backend: string; readonly error: unknown };

/** A call refused without being made: no instance of its backend takes calls now. */
export class CircuitOpenError extends GatewayError {
  constructor(backend: string, retryInMs: number) {
    super(
      ErrorCode.UPSTREAM_CIRCUIT_OPEN,
      `"${backend}" is failing; calls to it are paused for ${Math.max(1, Math.ceil(retryInMs / 1000))} s.`,
      { subgraph: backend },
    );
  }
}

/** One instance of a backend: its load and its record. */
export class Instance {
  readonly address: string;
  /** `scheme://address` for HTTP backends. */
  readonly origin: string | undefined;
  /** Attempts in flight now (what `least_loaded` compares). */
  inFlight = 0;
  /** Failed calls in a row. */
  consecutive = 0;
  /** The failure-rate window: when it began, calls and failures in it. */
  windowStart = 0;
  calls = 0;
  failures = 0;
  ejected = false;
  ejectedAt = 0;
  /** The ejection's wall-clock time, to compare with health checks' times. */
  ejectedAtWall = 0;
  ejectedUntil = 0;
  /** Times ejected, less one for every quiet interval since (Envoy's multiplier). */
  ejections = 0;
  readmittedAt = 0;
  /** The active health checks' verdict; true when none run. */
  healthy = true;
  timer: NodeJS.Timeout | undefined;
  #tls: { of: ChannelTls | undefined; tls: ChannelTls | undefined } | undefined;

  constructor(address: string, scheme: string | undefined) {
    this.address = address;
    this.origin = scheme ? `${scheme}//${address}` : undefined;
  }

  get state(): InstanceState {
    return this.ejected ? 'ejected' : this.healthy ? 'healthy' : 'unhealthy';
  }

  /** A gRPC channel's TLS for this instance: the logical host as the name to verify. */
  tlsFor(tls: ChannelTls | undefined, host: string): ChannelTls | undefined {
    if (!this.#tls || this.#tls.of !== tls)
      this.#tls = {
        of: tls,
        tls: tls && { ...tls, serverName: tls.serverName ?? hostnameOf(host) },
      };
    return this.#tls.tls;
  }
}

/** One backend: its settings (the served config's) and its instances (state kept across reloads). */
export class Upstream {
  spec: UpstreamSpec;
  instances: Instance[] = [];
  /** Attempts in flight over every instance: the retry budget's "active requests". */
  inFlight = 0;
  retriesInFlight = 0;
  #next = 0;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #emit: (event: UpstreamEvent) => void;
  /**
   * Whether the instance passed an active check after `since` (wall-clock ms): a pass re-admits
   * an ejected instance early (Envoy's default). Set by the registry when checks run.
   */
  checkedSince: (instance: Instance, since: number) => boolean = () => false;

  constructor(
    spec: UpstreamSpec,
    clock: Clock,
    random: () => number,
    emit: (event: UpstreamEvent) => void,
  ) {
    this.spec = spec;
    this.#clock = clock;
    this.#random = random;
    this.#emit = emit;
  }

  /** The instance list changed (config or DNS): known addresses keep their record. */
  place(addresses: readonly string[]): void {
    const known = new Map(this.instances.map((i) => [i.address, i]));
    const scheme = this.spec.protocol === 'http' ? new URL(this.spec.key).protocol : undefined;
    this.instances = [...new Set(addresses)].map((address) => {
      const instance = known.get(address);
      if (instance) return instance;
      this.#notify(address, 'healthy', 'added');
      return new Instance(address, scheme);
    });
    for (const instance of known.values())
      if (!this.instances.includes(instance)) this.forget(instance);
  }

  /** An instance no config or resolution names any more. */
  forget(instance: Instance): void {
    clearTimeout(instance.timer);
    this.#notify(instance.address, instance.state, 'removed');
  }

  #notify(instance: string, state: InstanceState, reason: InstanceReason): void {
    this.#emit({ type: 'instance', backend: this.spec.name, instance, state, reason });
  }

  /** Whether the instance takes calls now (an ejection past its time ends here). */
  available(instance: Instance): boolean {
    if (instance.ejected) {
      const now = this.#clock.now();
      if (now >= instance.ejectedUntil) this.#readmit(instance, 'ejection_ended');
      else if (this.checkedSince(instance, instance.ejectedAtWall))
        this.#readmit(instance, 'health_check_passed');
      else return false;
    }
    return instance.healthy;
  }

  /**
   * The instance for the next attempt: by the policy among the available ones, other than
   * `avoid` (the one a retry comes from) where another will do. With none available, the one
   * back soonest, which the outlier interceptor then refuses: the refusal is published like any
   * attempt.
   */
  pick(avoid?: Instance): Instance {
    const all = this.instances;
    if (all.length === 1) return all[0]!;
    let pool = all.filter((i) => i !== avoid && this.available(i));
    if (pool.length === 0) pool = all.filter((i) => this.available(i));
    if (pool.length === 0)
      return all.reduce((a, b) => (b.ejectedUntil < a.ejectedUntil && b.ejected ? b : a));
    if (pool.length === 1) return pool[0]!;
    if (this.spec.balance === 'least_loaded') {
      // Power of two choices: two distinct instances at random, the less loaded one.
      const first = Math.floor(this.#random() * pool.length);
      let second = Math.floor(this.#random() * (pool.length - 1));
      if (second >= first) second++;
      const a = pool[first]!;
      const b = pool[second]!;
      return b.inFlight < a.inFlight ? b : a;
    }
    this.#next = (this.#next + 1) % all.length;
    // Round robin over the whole list, skipping what is out: a returning instance rejoins its turn.
    for (let step = 0; step < all.length; step++) {
      const candidate = all[(this.#next + step) % all.length]!;
      if (pool.includes(candidate)) {
        this.#next = (this.#next + step) % all.length;
        return candidate;
      }
    }
    return pool[0]!;
  }

  /** How long until the instance takes calls again (for the refusal's message). */
  backIn(instance: Instance): number {
    return instance.ejected ? Math.max(0, instance.ejectedUntil - this.#clock.now()) : 0;
  }

  /** Learns how an attempt ended: `failed` when the backend failed it (not when it said no). */
  settle(instance: Instance, failed: boolean): void {
    const rules = this.spec.outlier;
    if (!rules.enabled || instance.ejected) return;
    const now = this.#clock.now();
    if (now - instance.windowStart >= rules.failure_rate.interval) {
      instance.windowStart = now;
      instance.calls = 0;
      instance.failures = 0;
    }
    instance.calls++;
    if (failed) {
      instance.failures++;
      instance.consecutive++;
    } else instance.consecutive = 0;
    const rate = rules.failure_rate;
    if (instance.consecutive >= rules.consecutive_failures)
      this.#eject(instance, 'consecutive_failures', now);
    // Judged at every call once the minimum is reached, as Envoy judges at each interval.
    else if (
      rate.threshold > 0 &&
      instance.calls >= rate.minimum_calls &&
      (instance.failures * 100) / instance.calls >= rate.threshold
    )
      this.#eject(instance, 'failure_rate', now);
  }

  /** A retry may start now if the retries in flight stay within the budget; it holds a slot. */
  claimRetry(): boolean {
    const { budget_percent, min_retry_concurrency } = this.spec.retries;
    const allowed = Math.max(min_retry_concurrency, (this.inFlight * budget_percent) / 100);
    if (this.retriesInFlight + 1 > allowed) return false;
    this.retriesInFlight++;
    return true;
  }

  releaseRetry(): void {
    this.retriesInFlight--;
  }

  /** The active checks' verdict on one instance. */
  setHealthy(instance: Instance, healthy: boolean): void {
    if (instance.healthy === healthy) return;
    instance.healthy = healthy;
    if (!instance.ejected)
      this.#emit({
        type: 'instance',
        backend: this.spec.name,
        instance: instance.address,
        state: instance.state,
        reason: healthy ? 'health_check_passed' : 'health_check',
      });
  }

  #eject(instance: Instance, reason: InstanceReason, now: number): void {
    const rules = this.spec.outlier;
    // Never more than the max share out. Unlike Envoy, no exception for the first: ejecting a
    // backend's only instance fails every call to it, an outage a few bad requests could cause,
    // so it takes max_ejection_percent: 100 (what a circuit breaker is).
    const out = this.instances.filter((i) => i.ejected).length;
    if (((out + 1) * 100) / this.instances.length > rules.max_ejection_percent) return;
    // A quiet interval since the last re-admission takes one off the multiplier.
    if (instance.ejections > 0 && instance.readmittedAt > 0) {
      const quiet = Math.floor((now - instance.readmittedAt) / rules.failure_rate.interval);
      instance.ejections = Math.max(0, instance.ejections - quiet);
    }
    instance.ejections++;
    const forMs = Math.min(rules.base_ejection_time * instance.ejections, rules.max_ejection_time);
    instance.ejected = true;
    instance.ejectedAt = now;
    instance.ejectedAtWall = Date.now();
    instance.ejectedUntil = now + forMs;
    clearTimeout(instance.timer);
    // The record shows the ejection's end even if no call comes to notice it.
    instance.timer = setTimeout(() => this.available(instance), forMs + 1);
    instance.timer.unref();
    this.#emit({
      type: 'instance',
      backend: this.spec.name,
      instance: instance.address,
      state: 'ejected',
      reason,
      forMs,
    });
  }

  #readmit(instance: Instance, reason: InstanceReason): void {
    clearTimeout(instance.timer);
    instance.ejected = false;
    instance.consecutive = 0;
    instance.calls = 0;
    instance.failures = 0;
    instance.readmittedAt = this.#clock.now();
    instance.windowStart = instance.readmittedAt;
    this.#emit({
      type: 'instance',
      backend: this.spec.name,
      instance: instance.address,
      state: instance.state,
      reason,
    });
  }
}

/** The logical host's name without its port (`[::1]:443` -> `::1`). */
export function hostnameOf(host: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (bracketed) return bracketed[1]!;
  const colon = host.lastIndexOf(':');
  return colon > 0 && host.indexOf(':') === colon ? host.slice(0, colon) : host;
}

/** `host:port` for an address a resolver gave (IPv6 in brackets). */
export function joinHostPort(address: string, port: string): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}
