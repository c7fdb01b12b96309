import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gate, type Ticket } from '../../../../src/policies/traffic/gate.ts';

const LIMITS = { max_in_flight: 2, max_queued: 2, queue_timeout: 60_000 };

test('admits up to max_in_flight, queues up to max_queued, refuses the rest at once', () => {
  const gate = new Gate('g');
  assert.equal(gate.enter(LIMITS), 'admitted');
  assert.equal(gate.enter(LIMITS), 'admitted');
  const first = gate.enter(LIMITS) as Ticket;
  const second = gate.enter(LIMITS) as Ticket;
  assert.equal(typeof first, 'object');
  assert.equal(gate.enter(LIMITS), 'queue_full');
  assert.deepEqual([gate.inFlight, gate.queued], [2, 2]);
  first.leave();
  second.leave();
});

test('a released slot goes to the oldest waiter; nothing jumps the queue', async () => {
  const gate = new Gate('g');
  gate.enter(LIMITS);
  gate.enter(LIMITS);
  const first = gate.enter(LIMITS) as Ticket;
  const second = gate.enter(LIMITS) as Ticket;
  gate.release();
  assert.equal(await first.admission, 'admitted');
  assert.deepEqual([gate.inFlight, gate.queued], [2, 1]);
  // A newcomer queues behind the waiter; the next release is the waiter's.
  const third = gate.enter(LIMITS) as Ticket;
  first.leave();
  assert.equal(await second.admission, 'admitted');
  assert.deepEqual([gate.inFlight, gate.queued], [2, 1]);
  third.leave();
});

test('a waiter is refused after its wait, and one that leaves is out of the queue at once', async () => {
  const gate = new Gate('g');
  const limits = { max_in_flight: 1, max_queued: 5, queue_timeout: 60_000 };
  gate.enter(limits);
  const late = gate.enter(limits, 5) as Ticket;
  const leaving = gate.enter(limits) as Ticket;
  leaving.leave();
  assert.equal(await leaving.admission, 'cancelled');
  assert.equal(await late.admission, 'queue_timeout');
  assert.deepEqual([gate.inFlight, gate.queued], [1, 0]);
  // Leaving twice, or after a refusal, gives nothing back twice.
  leaving.leave();
  late.leave();
  gate.release();
  assert.deepEqual([gate.inFlight, gate.queued], [0, 0]);
});

test('an admitted waiter that leaves gives its slot back; a queue of 0 or no time to wait refuses', async () => {
  const gate = new Gate('g');
  const limits = { max_in_flight: 1, max_queued: 1, queue_timeout: 60_000 };
  gate.enter(limits);
  const ticket = gate.enter(limits) as Ticket;
  gate.release();
  assert.equal(await ticket.admission, 'admitted');
  assert.equal(gate.inFlight, 1);
  ticket.leave();
  assert.equal(gate.inFlight, 0);
  gate.enter(limits);
  assert.equal(gate.enter({ ...limits, max_queued: 0 }), 'queue_full');
  assert.equal(gate.enter(limits, 0), 'queue_full');
});

test('caps a reload raised admit the waiters at the next entry, and lowered ones hold back releases', async () => {
  const gate = new Gate('g');
  const one = { max_in_flight: 1, max_queued: 5, queue_timeout: 60_000 };
  gate.enter(one);
  const first = gate.enter(one) as Ticket;
  const second = gate.enter(one) as Ticket;
  // Raised to 3: the next entry admits both waiters first, then queues behind nobody.
  const three = { ...one, max_in_flight: 3 };
  assert.equal(typeof gate.enter(three), 'object');
  assert.equal(await first.admission, 'admitted');
  assert.equal(await second.admission, 'admitted');
  assert.deepEqual([gate.inFlight, gate.queued], [3, 1]);
  // Lowered to 1: releases do not admit until fewer than 1 are in flight.
  const last = gate.enter(one, 60_000) as Ticket;
  gate.release();
  gate.release();
  assert.deepEqual([gate.inFlight, gate.queued], [1, 2]);
  gate.release();
  assert.deepEqual([gate.inFlight, gate.queued], [1, 1]);
  last.leave();
  first.leave();
});
