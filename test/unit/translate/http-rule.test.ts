import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import {
  compareSpecificity,
  expandTemplate,
  matchTemplate,
  parseTemplate,
  readHttpBindings,
  TemplateError,
} from '../../../src/translate/http-rule.ts';

// [template, request path, the variables it binds, or undefined when it must not match]
// The cases follow google/api/http.proto's examples and its grammar.
const MATCHES: [string, string, Record<string, string> | undefined][] = [
  ['/v1/messages/{message_id}', '/v1/messages/123456', { message_id: '123456' }],
  ['/v1/messages/{message_id}', '/v1/messages/123456/extra', undefined],
  ['/v1/messages/{message_id}', '/v1/messages/', undefined],
  [
    '/v1/users/{user_id}/messages/{message_id}',
    '/v1/users/me/messages/12',
    { user_id: 'me', message_id: '12' },
  ],
  ['/v1/{name=messages/*}', '/v1/messages/123456', { name: 'messages/123456' }],
  ['/v1/{name=shelves/*/books/*}', '/v1/shelves/1/books/2', { name: 'shelves/1/books/2' }],
  ['/v1/{name=shelves/*/books/*}', '/v1/shelves/1/notes/2', undefined],
  [
    '/v1/{book.name=shelves/*/books/*}',
    '/v1/shelves/s/books/b',
    { 'book.name': 'shelves/s/books/b' },
  ],
  ['/v1/{name=**}', '/v1/a/b/c', { name: 'a/b/c' }],
  ['/v1/files/**', '/v1/files', {}],
  ['/v1/files/**', '/v1/files/a/b', {}],
  ['/v1/*/items', '/v1/anything/items', {}],
  ['/v1/{name=shelves/*}:undelete', '/v1/shelves/3:undelete', { name: 'shelves/3' }],
  ['/v1/{name=shelves/*}:undelete', '/v1/shelves/3', undefined],
  ['/v1/messages/{id}', '/v1/messages/a%20b', { id: 'a b' }], // single segment: fully decoded
  ['/v1/messages/{id}', '/v1/messages/a%2Fb', { id: 'a/b' }],
  ['/v1/{name=**}', '/v1/a%2Fb/c', { name: 'a%2Fb/c' }], // multi-segment: %2F stays encoded
  ['/v1/messages/{id}', '/v1/messages/%E0%A4%A', undefined], // malformed escape
];

for (const [template, path, expected] of MATCHES) {
  test(`${template} ${expected ? 'matches' : 'does not match'} ${path}`, () => {
    const found = matchTemplate(parseTemplate(template), path);
    assert.deepEqual(found && Object.fromEntries(found.values), expected);
  });
}

const BAD_TEMPLATES: [string, RegExp][] = [
  ['v1/x', /must start with \//],
  ['/v1/**/x', /\*\* must be the last/],
  ['/v1/{name', /unclosed/],
  ['/v1/{9x}', /bad field path/],
  ['/v1/', /ends with \//],
  ['/v1/x:', /empty verb/],
];
for (const [template, message] of BAD_TEMPLATES) {
  test(`the template ${template} is refused`, () => {
    assert.throws(
      () => parseTemplate(template),
      (e: Error) => e instanceof TemplateError && message.test(e.message),
    );
  });
}

test('a literal segment is more specific than a variable, which is more than **', () => {
  const sorted = ['/v1/{name=**}', '/v1/{id}', '/v1/special']
    .map(parseTemplate)
    .sort(compareSpecificity)
    .map((t) => t.source);
  assert.deepEqual(sorted, ['/v1/special', '/v1/{id}', '/v1/{name=**}']);
});

test('expanding a template fills variables, encoding single segments and keeping / in multi-segment ones', () => {
  const values: Record<string, string> = { id: 'a b/c', name: 'shelves/1/books/2' };
  assert.equal(
    expandTemplate(parseTemplate('/users/{id}'), (p) => values[p] ?? ''),
    '/users/a%20b%2Fc',
  );
  assert.equal(
    expandTemplate(parseTemplate('/v1/{name=shelves/*/books/*}:archive'), (p) => values[p] ?? ''),
    '/v1/shelves/1/books/2:archive',
  );
});

test('bindings are read from the google.api.http option, additional_bindings included', () => {
  const { root } = protobuf.parse(
    `syntax = "proto3"; package t; import "google/api/annotations.proto";
     service S {
       rpc A(M) returns (M) { option (google.api.http) = {
         get: "/v1/{name=things/*}" response_body: "name"
         additional_bindings { post: "/v1/things" body: "*" }
         additional_bindings { custom { kind: "HEAD" path: "/v1/{name=things/*}" } }
       }; }
       rpc B(M) returns (M);
     }
     message M { string name = 1; }`,
    { keepCase: true },
  );
  const service = root.lookupService('t.S');
  const bindings = readHttpBindings(service.methods.A as protobuf.Method);
  assert.deepEqual(
    bindings.map((b) => [b.httpMethod, b.template.source, b.body, b.responseBody]),
    [
      ['GET', '/v1/{name=things/*}', undefined, 'name'],
      ['POST', '/v1/things', '*', undefined],
      ['HEAD', '/v1/{name=things/*}', undefined, undefined],
    ],
  );
  assert.deepEqual(readHttpBindings(service.methods.B as protobuf.Method), []);
});
