import type { RequestContext } from '../../kernel/context.ts';
import { ErrorCode, GatewayError } from '../../kernel/errors.ts';
import type { Refusal } from './gate.ts';

/**
 * The `shedLoad` stage: the gateway's admission cap (`traffic.inbound`), one gate over every
 * surface. A request takes a slot and holds it until its answer is written or its client leaves
 * (`ctx.onEnd`, run by server/inbound.ts); past `max_in_flight` it waits in a FIFO queue of at
 * most `max_queued` for at most `queue_timeout` (never past its own deadline); past those it is
 * refused at once with 503 SERVER_OVERLOADED and `Retry-After`, before anything reads its
 * credentials or body. A refusal costs a context and an error: memory stays flat under a flood.
 *
 * Retry-After is one second: a queue that timed out clears within its timeout, and a client
 * told to wait longer idles a gateway that may have room now. gRPC clients read it as
 * `grpc-retry-pushback-ms` (gRFC A6).
 */
export function shedLoad(ctx: RequestContext): void | Promise<void> {
  const gates = ctx.snapshot.gates;
  if (!gates) return;
  const limits = ctx.snapshot.traffic.inbound;
  const gate = gates.inbound;
  const left = ctx.deadline - performance.now();
  const entered = gate.enter(limits, Math.min(limits.queue_timeout, left));
  if (entered === 'admitted') {
    ctx.onEnd.push(() => gate.release());
    return;
  }
  if (entered === 'queue_full') throw overloaded(ctx, entered);
  // Leaving gives the place back whatever it became: the queue's, or the slot.
  ctx.onEnd.push(() => entered.leave());
  return entered.admission.then((outcome) => {
    if (outcome !== 'admitted') throw overloaded(ctx, outcome);
  });
}

function overloaded(ctx: RequestContext, reason: Refusal): GatewayError {
  ctx.snapshot.gates?.onShed('inbound', ctx.facts.surface, reason);
  ctx.responseHeaders.set('retry-after', String(RETRY_AFTER_S));
  if (ctx.facts.surface === 'grpc')
    ctx.responseHeaders.set('grpc-retry-pushback-ms', String(RETRY_AFTER_S * 1_000));
  return new GatewayError(
    ErrorCode.SERVER_OVERLOADED,
    reason === 'queue_full'
      ? `The gateway is at capacity; retry in ${RETRY_AFTER_S} s.`
      : `The gateway could not start this request in time; retry in ${RETRY_AFTER_S} s.`,
    { extensions: { retryAfter: RETRY_AFTER_S } },
  );
}

const RETRY_AFTER_S = 1;
