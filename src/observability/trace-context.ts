import { randomFillSync } from 'node:crypto';

/**
 * W3C Trace Context, the part a gateway needs: reading a client's `traceparent`, writing one
 * per backend call, and random ids. https://www.w3.org/TR/trace-context/#traceparent-header
 */

export interface RemoteParent {
  readonly traceId: string;
  readonly spanId: string;
  /** The `sampled` flag: the caller records this trace. */
  readonly sampled: boolean;
}

// version "-" trace-id "-" parent-id "-" trace-flags, lowercase hex; later versions may append
// "-" and more fields, which a version-00 reader ignores (section 4.3).
const TRACEPARENT = /^([\da-f]{2})-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})(-.*)?$/;
const ZEROS = /^0+$/;

/** The parent a `traceparent` names, or undefined when it is absent or invalid (then ignored). */
export function parseTraceparent(header: string | string[] | undefined): RemoteParent | undefined {
  if (typeof header !== 'string') return undefined;
  const match = TRACEPARENT.exec(header.trim());
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [string, ...string[]];
  // Version ff is forbidden; version 00 has exactly four fields.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (ZEROS.test(traceId as string) || ZEROS.test(spanId as string)) return undefined;
  return {
    traceId: traceId as string,
    spanId: spanId as string,
    sampled: (parseInt(flags as string, 16) & 1) === 1,
  };
}

export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

/** The trace id a valid `traceparent` names, for log lines when tracing is off. */
export function traceIdOf(traceparent: string | string[] | undefined): string | undefined {
  return parseTraceparent(traceparent)?.traceId;
}

/**
 * Random ids from a pooled buffer: one `randomFillSync` serves a few hundred ids, where asking
 * the CSPRNG per id costs a syscall-sized call for every span.
 */
const POOL = Buffer.allocUnsafe(4096);
let offset = POOL.length;

function randomHex(bytes: number): string {
  if (offset + bytes > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const hex = POOL.toString('hex', offset, offset + bytes);
  offset += bytes;
  // All-zero ids are invalid (1 in 2^64 for a span id): draw again.
  return ZEROS.test(hex) ? randomHex(bytes) : hex;
}

export const newTraceId = (): string => randomHex(16);
export const newSpanId = (): string => randomHex(8);

/**
 * Whether a new trace is recorded at `ratio`: the decision is a function of the trace id, so
 * every instance decides the same for the same trace. It reads the id's last eight hex digits,
 * which W3C Trace Context level 2 keeps random.
 */
export function sampledAt(traceId: string, ratio: number): boolean {
  if (ratio >= 1) return true;
  if (ratio <= 0) return false;
  return parseInt(traceId.slice(24), 16) < ratio * 0x1_0000_0000;
}
