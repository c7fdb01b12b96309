import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../../../src/kernel/errors.ts';
import type { BackendTarget as BackendCall } from '../../../../src/kernel/outbound.ts';
import {
  Breakers,
  CircuitOpenError,
  type BreakerState,
} from '../../../../src/policies/traffic/breaker.ts';

const USERS: BackendCall = {
  backend: 'users',
  kind: 'rest',
  operation: 'GET /users/{id}',
  protocol: 'http',
  address: '10.0.0.1:8080',
};
const USERS_OTHER_HOST: BackendCall = { ...USERS, address: '10.0.0.2:8080' };
const ORDERS: BackendCall = { ...USERS, backend: 'orders' };

/** The outcomes these tables use that the transport counts as the backend's failure. */
const BACKEND_FAILURES = new Set<string>([
  ErrorCode.GATEWAY_TIMEOUT,
  ErrorCode.UPSTREAM_UNAVAILABLE,
  ErrorCode.UPSTREAM_ERROR,
]);

/** Three failures open a circuit for 1 s; time moves only when the test says. */
function breakers() {
  const clock = { now: 0 };
  const changes: string[] = [];
  const set = new Breakers(
    { failureThreshold: 3, openForMs: 1_000 },
    { now: () => clock.now },
    (backend, endpoint, state: BreakerState) => changes.push(`${backend}@${endpoint} ${state}`),
  );
  /** One call: admitted (then settled as the transport judges `outcome`) or refused. */
  const call = (target: BackendCall, outcome: string): 'made' | 'refused' => {
    try {
      set.admit(target);
    } catch (error) {
      assert.ok(error instanceof CircuitOpenError);
      return 'refused';
    }
    set.settle(target, BACKEND_FAILURES.has(outcome));
    return 'made';
  };
  return { set, clock, changes, call };
}

test('failures below the threshold, answers a client caused, and successes keep it closed', () => {
  const { set, call } = breakers();
  for (const outcome of [
    ErrorCode.GATEWAY_TIMEOUT,
    ErrorCode.UPSTREAM_UNAVAILABLE,
    'ok', // resets the run
    ErrorCode.UPSTREAM_ERROR,
    ErrorCode.NOT_FOUND, // the backend answered: not a failure
    ErrorCode.BAD_USER_INPUT,
    ErrorCode.UPSTREAM_ERROR,
  ])
    assert.equal(call(USERS, outcome), 'made');
  assert.equal(set.stateOf('users', '10.0.0.1:8080'), 'closed');
});

test('consecutive failures open the circuit of that endpoint only', () => {
  const { set, call, changes } = breakers();
  for (let i = 0; i < 3; i++) call(USERS, ErrorCode.UPSTREAM_UNAVAILABLE);
  assert.equal(set.stateOf('users', '10.0.0.1:8080'), 'open');
  assert.equal(call(USERS, 'ok'), 'refused');
  assert.equal(call(USERS_OTHER_HOST, 'ok'), 'made');
  assert.equal(call(ORDERS, 'ok'), 'made');
  assert.deepEqual(changes, ['users@10.0.0.1:8080 open']);
});

test('the refusal is an UPSTREAM_CIRCUIT_OPEN field error naming the backend', () => {
  const { set, call } = breakers();
  for (let i = 0; i < 3; i++) call(USERS, ErrorCode.GATEWAY_TIMEOUT);
  assert.throws(
    () => set.admit(USERS),
    (error: CircuitOpenError) => {
      assert.equal(error.code, ErrorCode.UPSTREAM_CIRCUIT_OPEN);
      assert.equal(error.extensions.subgraph, 'users');
      assert.equal(error.extensions.http, undefined, 'field-level: a partial result stays a 200');
      assert.equal(error.status, 503);
      return true;
    },
  );
});

test('after open_for one trial goes through; its success closes the circuit', () => {
  const { set, clock, call, changes } = breakers();
  for (let i = 0; i < 3; i++) call(USERS, ErrorCode.UPSTREAM_ERROR);
  clock.now = 999;
  assert.equal(call(USERS, 'ok'), 'refused');
  clock.now = 1_000;
  set.admit(USERS); // the trial, in flight
  assert.equal(set.stateOf('users', '10.0.0.1:8080'), 'half_open');
  assert.equal(call(USERS, 'ok'), 'refused', 'one trial at a time');
  set.settle(USERS, BACKEND_FAILURES.has('ok'));
  assert.equal(set.stateOf('users', '10.0.0.1:8080'), 'closed');
  assert.equal(call(USERS, 'ok'), 'made');
  assert.deepEqual(changes, [
    'users@10.0.0.1:8080 open',
    'users@10.0.0.1:8080 half_open',
    'users@10.0.0.1:8080 closed',
  ]);
  // Closed again means a fresh run of failures is needed to open it.
  call(USERS, ErrorCode.UPSTREAM_ERROR);
  call(USERS, ErrorCode.UPSTREAM_ERROR);
  assert.equal(set.stateOf('users', '10.0.0.1:8080'), 'closed');
});

test('a failed trial opens the circuit for another open_for', () => {
  const { set, clock, call } = breakers();
  for (let i = 0; i < 3; i++) call(USERS, ErrorCode.UPSTREAM_ERROR);
  clock.now = 1_000;
  assert.equal(call(USERS, ErrorCode.GATEWAY_TIMEOUT), 'made');
  assert.equal(set.stateOf('users', '10.0.0.1:8080'), 'open');
  clock.now = 1_999;
  assert.equal(call(USERS, 'ok'), 'refused');
  clock.now = 2_000;
  assert.equal(call(USERS, 'ok'), 'made');
  assert.equal(set.stateOf('users', '10.0.0.1:8080'), 'closed');
});

test('a trial that never settles does not keep the circuit half-open for ever', () => {
  const { set, clock } = breakers();
  for (let i = 0; i < 3; i++) {
    set.admit(USERS);
    set.settle(USERS, BACKEND_FAILURES.has(ErrorCode.UPSTREAM_UNAVAILABLE));
  }
  clock.now = 1_000;
  set.admit(USERS); // lost: never settled
  clock.now = 1_500;
  assert.throws(() => set.admit(USERS), CircuitOpenError);
  clock.now = 2_000;
  set.admit(USERS); // a new trial
  set.settle(USERS, BACKEND_FAILURES.has('ok'));
  assert.equal(set.stateOf('users', '10.0.0.1:8080'), 'closed');
});

test('refuses() tells a balancer which endpoints to pass over, and when one is due a trial', () => {
  const { set, clock, call } = breakers();
  assert.equal(set.refuses('users', '10.0.0.1:8080'), false);
  for (let i = 0; i < 3; i++) call(USERS, ErrorCode.UPSTREAM_UNAVAILABLE);
  assert.equal(set.refuses('users', '10.0.0.1:8080'), true);
  assert.equal(set.refuses('users', '10.0.0.2:8080'), false);
  clock.now = 1_000;
  assert.equal(set.refuses('users', '10.0.0.1:8080'), false, 'due a trial: send it one');
  set.admit(USERS);
  assert.equal(set.refuses('users', '10.0.0.1:8080'), true, 'its trial is in flight');
  set.settle(USERS, BACKEND_FAILURES.has('ok'));
  assert.equal(set.refuses('users', '10.0.0.1:8080'), false);
});
