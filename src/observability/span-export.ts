import { ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';

/**
 * Ended spans wait here and leave in batches, off the request path: a batch goes when it is
 * full or when the interval ticks. The queue is bounded, so a collector that is down costs
 * dropped spans (counted), never the gateway's memory.
 */

export interface SpanQueueOptions {
  exporter: SpanExporter;
  /** Spans per export call. @default 512 */
  batchSize?: number;
  /** Spans kept waiting at most; more are dropped. @default 4096 */
  maxQueued?: number;
  /** The longest a span waits before its batch is sent. @default 5000 */
  intervalMs?: number;
  /** Send each span as it ends (tests read spans as soon as the request ends). */
  immediate?: boolean;
  /** An export failed: the batch is gone, the queue goes on. */
  onError?: (error: Error) => void;
}

export class SpanQueue {
  /** Spans dropped because the queue was full. */
  dropped = 0;
  readonly #exporter: SpanExporter;
  readonly #batchSize: number;
  readonly #maxQueued: number;
  readonly #immediate: boolean;
  readonly #onError: (error: Error) => void;
  readonly #timer: NodeJS.Timeout;
  readonly #inFlight = new Set<Promise<void>>();
  #queue: ReadableSpan[] = [];

  constructor(options: SpanQueueOptions) {
    this.#exporter = options.exporter;
    this.#batchSize = options.batchSize ?? 512;
    this.#maxQueued = options.maxQueued ?? 4096;
    this.#immediate = options.immediate ?? false;
    this.#onError = options.onError ?? (() => {});
    this.#timer = setInterval(() => this.#send(), options.intervalMs ?? 5000);
    // Waiting spans never keep the process alive: shutdown flushes them.
    this.#timer.unref();
  }

  push(span: ReadableSpan): void {
    if (this.#immediate) return this.#export([span]);
    if (this.#queue.length >= this.#maxQueued) {
      this.dropped++;
      return;
    }
    this.#queue.push(span);
    if (this.#queue.length >= this.#batchSize) this.#send();
  }

  /** Sends what waits and resolves when every export in flight has answered. */
  async flush(): Promise<void> {
    while (this.#queue.length > 0) this.#send();
    await Promise.all(this.#inFlight);
  }

  async shutdown(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
    await this.#exporter.shutdown();
  }

  #send(): void {
    if (this.#queue.length === 0) return;
    const batch =
      this.#queue.length <= this.#batchSize ? this.#queue : this.#queue.splice(0, this.#batchSize);
    if (batch === this.#queue) this.#queue = [];
    this.#export(batch);
  }

  #export(batch: ReadableSpan[]): void {
    const done = new Promise<void>((resolve) => {
      try {
        this.#exporter.export(batch, (result) => {
          if (result.code !== ExportResultCode.SUCCESS)
            this.#onError(result.error ?? new Error('span export failed'));
          resolve();
        });
      } catch (error) {
        this.#onError(error instanceof Error ? error : new Error(String(error)));
        resolve();
      }
    });
    this.#inFlight.add(done);
    void done.then(() => this.#inFlight.delete(done));
  }
}
