import { test } from 'node:test';
import assert from 'node:assert/strict';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { grpcStatusOfHttp, HTTP_STATUS_OF_GRPC } from '../../../src/translate/status-map.ts';
import { codeSpans, onlyCode, readDoc, tablesFirstColumn } from '../../helpers/markdown.ts';

const page = readDoc('translation.md');

function table(first: string) {
  const [found, ...others] = tablesFirstColumn(page, first);
  assert.ok(found && others.length === 0, `one "${first}" table`);
  return found;
}

test('the transcoding status table gives every gRPC status the HTTP status it answers', () => {
  const documented = table('grpc status').rows.flatMap((row) =>
    codeSpans(row[0] ?? '').map((name) => [name, Number(row[1])] as const),
  );
  assert.deepEqual(
    Object.fromEntries(documented),
    Object.fromEntries(
      Object.entries(HTTP_STATUS_OF_GRPC).map(([code, http]) => [GrpcStatus[Number(code)], http]),
    ),
  );
  assert.equal(documented.length, Object.keys(HTTP_STATUS_OF_GRPC).length, 'each status once');
});

test('the gRPC port status table gives every backend HTTP status the gRPC status it answers', () => {
  const { rows } = table("backend's http status");
  const listed = new Map<number, string>();
  const classes = new Map<string, string>();
  for (const row of rows) {
    const status = onlyCode(row[1] ?? '') as string;
    const other = /^other (\dxx)$/.exec(row[0] ?? '');
    if (other) classes.set(other[1] as string, status);
    else if (row[0] === '2xx') classes.set('2xx', status);
    else for (const [n] of (row[0] ?? '').matchAll(/\b\d{3}\b/g)) listed.set(Number(n), status);
  }
  for (let http = 200; http < 600; http++) {
    if (http >= 300 && http < 400) continue;
    const expected = listed.get(http) ?? classes.get(`${String(http)[0]}xx`);
    assert.equal(GrpcStatus[grpcStatusOfHttp(http)], expected, `HTTP ${http}`);
  }
});
