import { test } from 'node:test';
import assert from 'node:assert/strict';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { CODE_OF_GRPC_STATUS as GRPC_STATUS_CODES } from '../../../src/kernel/errors.ts';
import { REST_STATUS_CODES } from '../../../src/adapters/rest/status-map.ts';
import { ErrorCode } from '../../../src/kernel/errors.ts';
import { codeSpans, onlyCode, readDoc, tablesFirstColumn } from '../../helpers/markdown.ts';

const page = readDoc('adapters.md');

/** The only table of the page whose first column is `first`. */
function table(first: string) {
  const [found, ...others] = tablesFirstColumn(page, first);
  assert.ok(found && others.length === 0, `one "${first}" table`);
  return found;
}

test('the REST adapter error table gives each HTTP status the code the adapter maps it to', () => {
  const { rows } = table('the service answers');
  const numbered = rows.filter((row) => /^\d{3}$/.test(row[0] ?? ''));
  assert.deepEqual(
    Object.fromEntries(numbered.map((row) => [row[0], codeSpans(row[2] ?? '')[0]])),
    Object.fromEntries(Object.entries(REST_STATUS_CODES).map(([status, code]) => [status, code])),
  );
  const other = rows.find((row) => row[0] === 'any other status');
  assert.equal(onlyCode(other?.[2] ?? ''), ErrorCode.UPSTREAM_ERROR);
});

test('the gRPC adapter error table gives each gRPC status the code the adapter maps it to', () => {
  const { rows } = table('grpc status');
  const named = rows.filter((row) => onlyCode(row[0] ?? '') !== undefined);
  assert.deepEqual(
    Object.fromEntries(named.map((row) => [onlyCode(row[0] ?? ''), onlyCode(row[1] ?? '')])),
    Object.fromEntries(
      Object.entries(GRPC_STATUS_CODES).map(([code, mapped]) => [GrpcStatus[Number(code)], mapped]),
    ),
  );
  const other = rows.find((row) => row[0] === 'any other');
  assert.equal(onlyCode(other?.[1] ?? ''), ErrorCode.UPSTREAM_ERROR);
});
