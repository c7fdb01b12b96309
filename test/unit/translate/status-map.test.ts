import { test } from 'node:test';
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import {
  grpcStatusOfHttp,
  HTTP_STATUS_OF_GRPC,
  statusOfGrpcError,
} from '../../../src/translate/status-map.ts';

// A REST backend's HTTP status -> the gRPC status its gRPC caller gets.
const HTTP_TO_GRPC: [number, status][] = [
  [200, status.OK],
  [201, status.OK],
  [204, status.OK],
  [400, status.INVALID_ARGUMENT],
  [401, status.UNAUTHENTICATED],
  [403, status.PERMISSION_DENIED],
  [404, status.NOT_FOUND],
  [409, status.ALREADY_EXISTS],
  [412, status.FAILED_PRECONDITION],
  [416, status.OUT_OF_RANGE],
  [422, status.INVALID_ARGUMENT],
  [429, status.RESOURCE_EXHAUSTED],
  [499, status.CANCELLED],
  [418, status.FAILED_PRECONDITION], // any other 4xx
  [500, status.INTERNAL],
  [501, status.UNIMPLEMENTED],
  [502, status.UNAVAILABLE],
  [503, status.UNAVAILABLE],
  [504, status.DEADLINE_EXCEEDED],
  [507, status.INTERNAL], // any other 5xx
];
for (const [http, grpc] of HTTP_TO_GRPC) {
  test(`HTTP ${http} from a REST backend is gRPC ${status[grpc]}`, () => {
    assert.equal(grpcStatusOfHttp(http), grpc);
  });
}

test('every gRPC status has an HTTP status, and the one-to-one rows go back where they came from', () => {
  for (let code = 0; code <= 16; code++) assert.ok(HTTP_STATUS_OF_GRPC[code], `no row for ${code}`);
  for (const code of [
    status.INVALID_ARGUMENT,
    status.UNAUTHENTICATED,
    status.PERMISSION_DENIED,
    status.NOT_FOUND,
    status.ALREADY_EXISTS,
    status.RESOURCE_EXHAUSTED,
    status.UNIMPLEMENTED,
    status.UNAVAILABLE,
    status.DEADLINE_EXCEEDED,
  ])
    assert.equal(grpcStatusOfHttp(HTTP_STATUS_OF_GRPC[code] as number), code, status[code]);
});

test('masking replaces a server failure’s message and keeps a client error’s', () => {
  const internal = statusOfGrpcError(status.INTERNAL, 'db-7 refused: pool exhausted', 'c-1', true);
  assert.equal(internal.httpStatus, 500);
  assert.equal(internal.body.message, 'The backend answered INTERNAL.');
  const notFound = statusOfGrpcError(status.NOT_FOUND, 'order 9 not found', 'c-1', true);
  assert.equal(notFound.body.message, 'order 9 not found');
  const unmasked = statusOfGrpcError(status.INTERNAL, 'db-7 refused', 'c-1', false);
  assert.equal(unmasked.body.message, 'db-7 refused');
  assert.deepEqual(notFound.body.details, [
    {
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason: 'NOT_FOUND',
      domain: 'gateway',
      metadata: { correlationId: 'c-1' },
    },
  ]);
});
