/**
 * Admission gates: a cap on work in flight and a bounded FIFO queue in front of it, with a time
 * limit on the wait. One gate stands in front of the whole gateway (the `shedLoad` stage, every
 * surface) and one in front of each backend (the `limitConcurrency` interceptor). Past the queue,
 * or past its wait, work is refused at once: a fast 503 beats a slow timeout, and what a gateway
 * holds under a flood stays bounded (Envoy's circuit-breaker thresholds `max_requests` and
 * `max_pending_requests`; Apollo Router's `concurrency_limit` and `load_shed`).
 *
 * The state (counts, the queue) belongs to the running gateway and outlives reloads; the limits
 * are read at each entry, so a reload's new limits apply to the next request.
 */

export interface GateLimits {
  /** Work admitted at once; more waits in the queue. */
  readonly max_in_flight: number;
  /** Work waiting for a slot; more is refused at once. */
  readonly max_queued: number;
  /** Milliseconds a waiter waits before it is refused. */
  readonly queue_timeout: number;
}

/** Why a gate refused: its queue was full, the wait ran out, or the waiter left. */
export type Refusal = 'queue_full' | 'queue_timeout' | 'cancelled';

/** A place in a gate's queue: settles `admitted` or with a refusal. */
export interface Ticket {
  readonly admission: Promise<'admitted' | Refusal>;
  /**
   * The holder is done with its place, whatever it became: a waiter leaves the queue (its
   * admission settles `cancelled`), an admitted holder gives its slot back. Idempotent.
   */
  leave(): void;
}

class Waiter implements Ticket {
  readonly admission: Promise<'admitted' | Refusal>;
  state: 'waiting' | 'admitted' | 'done' = 'waiting';
  timer: NodeJS.Timeout | undefined;
  #resolve!: (outcome: 'admitted' | Refusal) => void;
  readonly #gate: Gate;

  constructor(gate: Gate) {
    this.#gate = gate;
    this.admission = new Promise((resolve) => (this.#resolve = resolve));
  }

  settle(outcome: 'admitted' | Refusal): void {
    clearTimeout(this.timer);
    this.state = outcome === 'admitted' ? 'admitted' : 'done';
    this.#resolve(outcome);
  }

  leave(): void {
    if (this.state === 'waiting') this.#gate.dequeue(this, 'cancelled');
    else if (this.state === 'admitted') {
      this.state = 'done';
      this.#gate.release();
    }
  }
}

export class Gate {
  readonly name: string;
  #inFlight = 0;
  /** Insertion-ordered: the first waiter is the oldest (FIFO); leaving is O(1). */
  readonly #queue = new Set<Waiter>();
  readonly #onChange: (gate: Gate) => void;
  /** The caps of the latest entry: a reload's apply from the next request on. */
  #limits: GateLimits | undefined;

  constructor(name: string, onChange: (gate: Gate) => void = () => {}) {
    this.name = name;
    this.#onChange = onChange;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get queued(): number {
    return this.#queue.size;
  }

  /**
   * Admits now (`admitted`: the caller holds a slot and must `release()` it), refuses now
   * (`queue_full`), or queues for at most `waitMs` (a Ticket). Queued work is admitted in order
   * of arrival as slots free up; nothing jumps the queue while anyone waits.
   */
  enter(limits: GateLimits, waitMs = limits.queue_timeout): 'admitted' | 'queue_full' | Ticket {
    this.#limits = limits;
    // Caps a reload raised admit the waiters first: nothing jumps the queue.
    if (this.#queue.size > 0 && this.#inFlight < limits.max_in_flight) this.#admitWaiters();
    if (this.#inFlight < limits.max_in_flight && this.#queue.size === 0) {
      this.#inFlight++;
      this.#onChange(this);
      return 'admitted';
    }
    if (this.#queue.size >= limits.max_queued || waitMs <= 0) return 'queue_full';
    const waiter = new Waiter(this);
    waiter.timer = setTimeout(() => this.dequeue(waiter, 'queue_timeout'), waitMs);
    this.#queue.add(waiter);
    this.#onChange(this);
    return waiter;
  }

  /** A slot ends: the oldest waiters take what the caps (the latest entry's) allow, in order. */
  release(): void {
    this.#inFlight--;
    this.#admitWaiters();
    this.#onChange(this);
  }

  #admitWaiters(): void {
    const max = this.#limits?.max_in_flight ?? 0;
    // Deleting the entry being visited is safe in a Set's iteration.
    for (const waiter of this.#queue) {
      if (this.#inFlight >= max) return;
      this.#queue.delete(waiter);
      this.#inFlight++;
      waiter.settle('admitted');
    }
  }

  /** A waiter leaves the queue unadmitted. */
  dequeue(waiter: Waiter, refusal: Refusal): void {
    if (!this.#queue.delete(waiter)) return;
    waiter.settle(refusal);
    this.#onChange(this);
  }
}

/**
 * The running gateway's gates: one inbound, one per backend by name (bounded by the config).
 * They outlive snapshots; `onChange` and `onShed` publish for metrics (server/app.ts wires them
 * to `gateway:load`).
 */
export class Gates {
  readonly inbound: Gate;
  readonly #backends = new Map<string, Gate>();
  readonly #onChange: (gate: Gate, kind: 'inbound' | 'backend') => void;
  /** Something was refused: `label` is the surface (inbound) or the backend's name. */
  readonly onShed: (kind: 'inbound' | 'backend', label: string, reason: Refusal) => void;

  constructor(
    onChange: (gate: Gate, kind: 'inbound' | 'backend') => void = () => {},
    onShed: (kind: 'inbound' | 'backend', label: string, reason: Refusal) => void = () => {},
  ) {
    this.#onChange = onChange;
    this.onShed = onShed;
    this.inbound = new Gate('inbound', (gate) => onChange(gate, 'inbound'));
  }

  /** The gate in front of one backend, made on its first call. */
  backend(name: string): Gate {
    let gate = this.#backends.get(name);
    if (!gate) {
      gate = new Gate(name, (g) => this.#onChange(g, 'backend'));
      this.#backends.set(name, gate);
    }
    return gate;
  }
}
