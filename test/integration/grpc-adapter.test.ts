import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { mappingSource, startMappingServer } from '../fixtures/protos/mapping-server.ts';
import { GrpcChannels } from '../../src/adapters/grpc/channels.ts';
import { checkHealth } from '../../src/adapters/grpc/health.ts';
import { get, post, startTestGateway, writeProject, type TestGateway } from '../helpers/env.ts';

const EVERYTHING = `aDouble aFloat anInt32 anInt64 aUint32 aUint64 aSint32 aSint64 aFixed32 aFixed64 anSfixed32 anSfixed64
  aBool aString someBytes color inner { label counts } inners { label } tags scores { key value }
  choiceText choiceNumber maybe at took wrappedInt64 wrappedString attributes anything`;

/** A gRPC service from its protos alone, through the whole gateway, against a real grpc-js server. */
describe('a gRPC service as a subgraph', () => {
  let service: Awaited<ReturnType<typeof startMappingServer>>;
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateway: TestGateway;

  before(async () => {
    service = await startMappingServer();
    project = await writeProject([]);
    await project.write(
      'supergraph.yaml',
      stringify({
        subgraphs: {
          mapping: {
            source: mappingSource(service.address, {
              timeout: '300ms',
              max_stream_messages: 3,
              methods: { Slow: 'query' },
            }),
          },
        },
      }),
    );
    gateway = await startTestGateway({ configFile: project.configFile });
  });

  after(async () => {
    await gateway.close();
    await service.close();
    await project.remove();
  });

  test('every scalar, enum, message, list, map, oneof, optional and well-known type round-trips', async () => {
    const input = {
      aDouble: 1.5,
      aFloat: 0.25,
      anInt32: -7,
      anInt64: '9223372036854775807',
      aUint32: 4294967295,
      aUint64: '18446744073709551615',
      aSint32: -2147483648,
      aSint64: '-9223372036854775808',
      aFixed32: 7,
      aFixed64: '123456789012345678',
      anSfixed32: -5,
      anSfixed64: '-123456789012345678',
      aBool: true,
      aString: 'héllo',
      someBytes: Buffer.from('bytes!').toString('base64'),
      color: 'GREEN',
      inner: { label: 'in', counts: ['1', '9007199254740993'] },
      inners: [{ label: 'a' }, { label: 'b' }],
      tags: ['x', 'y'],
      scores: [{ key: 'ada', value: 3 }],
      choiceNumber: 42,
      maybe: 'present',
      at: '2026-11-25T10:15:30.123456789Z',
      took: '1.5s',
      wrappedInt64: '-42',
      wrappedString: 'wrapped',
      attributes: { a: 1, b: [true, null, 'c'], c: { d: 'e' } },
      anything: [1, 'two'],
    };
    const args = Object.keys(input)
      .map((k) => `${k}: $${k}`)
      .join(', ');
    const types: Record<string, string> = {
      aDouble: 'Float',
      aFloat: 'Float',
      anInt32: 'Int',
      anInt64: 'Int64',
      aUint32: 'Float',
      aUint64: 'Int64',
      aSint32: 'Int',
      aSint64: 'Int64',
      aFixed32: 'Float',
      aFixed64: 'Int64',
      anSfixed32: 'Int',
      anSfixed64: 'Int64',
      aBool: 'Boolean',
      aString: 'String',
      someBytes: 'Base64',
      color: 'Color',
      inner: 'InnerInput',
      inners: '[InnerInput!]',
      tags: '[String!]',
      scores: '[EverythingScoresEntryInput!]',
      choiceNumber: 'Int',
      maybe: 'String',
      at: 'DateTime',
      took: 'Duration',
      wrappedInt64: 'Int64',
      wrappedString: 'String',
      attributes: 'JSON',
      anything: 'JSON',
    };
    const vars = Object.keys(input)
      .map((k) => `$${k}: ${types[k]}`)
      .join(', ');
    const res = await post(gateway.url, {
      query: `mutation Echo(${vars}) { echo(${args}) { ${EVERYTHING} } }`,
      variables: input,
    });
    assert.equal(res.json.errors, undefined, JSON.stringify(res.json.errors));
    assert.deepEqual(res.json.data.echo, {
      ...input,
      aFloat: 0.25,
      inners: [{ label: 'a' }, { label: 'b' }],
      choiceText: null,
      // ProtoJSON writes 0, 3, 6 or 9 fraction digits, as transcoded JSON does.
      took: '1.500s',
    });
  });

  test('unset fields read as proto3 defaults, and absent optional and oneof fields as null', async () => {
    const res = await post(gateway.url, {
      query: `mutation { echo { anInt64 aString color maybe choiceText inner { label } at wrappedString } }`,
    });
    assert.deepEqual(res.json.data.echo, {
      anInt64: '0',
      aString: '',
      color: 'UNSPECIFIED',
      maybe: null,
      choiceText: null,
      inner: null,
      at: null,
      wrappedString: null,
    });
  });

  test('an int64 that is not an integer string is refused before any call', async () => {
    const before = service.metadata.length;
    const res = await post(gateway.url, { query: 'mutation { echo(anInt64: "12x") { anInt64 } }' });
    assert.equal(res.json.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
    assert.match(res.json.errors[0].message, /Int64 expects an integer as a string/);
    assert.equal(service.metadata.length, before);
  });

  test('/readyz reports a backend without grpc.health.v1 as such, and stays ready', async () => {
    const ready = await get(`${gateway.adminOrigin}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(ready.json.backends.mapping.health, 'NO_HEALTH_SERVICE');
  });

  test('a health check against an address nothing listens on says UNREACHABLE', async () => {
    const channels = new GrpcChannels();
    try {
      assert.equal(await checkHealth(channels.get('127.0.0.1:1'), '', 1_000), 'UNREACHABLE');
    } finally {
      channels.close();
    }
  });

  test('Empty in and out: a query without arguments answering true', async () => {
    const res = await post(gateway.url, { query: '{ getNothing }' });
    assert.deepEqual(res.json, { data: { getNothing: true } });
  });

  const statuses: [number, string, string][] = [
    [5, 'NOT_FOUND', 'NOT_FOUND'],
    [3, 'INVALID_ARGUMENT', 'BAD_USER_INPUT'],
    [16, 'UNAUTHENTICATED', 'UNAUTHENTICATED'],
    [7, 'PERMISSION_DENIED', 'FORBIDDEN'],
    [8, 'RESOURCE_EXHAUSTED', 'UPSTREAM_RATE_LIMITED'],
    [4, 'DEADLINE_EXCEEDED', 'GATEWAY_TIMEOUT'],
    [14, 'UNAVAILABLE', 'UPSTREAM_UNAVAILABLE'],
    [13, 'INTERNAL', 'UPSTREAM_ERROR'],
    [12, 'UNIMPLEMENTED', 'UPSTREAM_ERROR'],
  ];
  for (const [code, name, expected] of statuses) {
    test(`gRPC ${name} is ${expected} with the status name and number`, async () => {
      const res = await post(gateway.url, {
        query: `mutation { fail(code: ${code}) { aString } }`,
      });
      assert.deepEqual(res.json.data, { fail: null });
      assert.deepEqual(res.json.errors[0].extensions, {
        code: expected,
        subgraph: 'mapping',
        serviceName: 'mapping',
        grpcStatus: name,
        grpcCode: code,
      });
      assert.doesNotMatch(res.text, /secret backend detail/);
      // Production names the status, never the method; the log line does.
      assert.equal(res.json.errors[0].message, `Subgraph "mapping" answered ${name}.`);
    });
  }

  test('the log line of a failed call names the method production clients do not see', async () => {
    const res = await post(
      gateway.url,
      { query: 'mutation { fail(code: 5) { aString } }' },
      { 'x-correlation-id': 'grpc-method' },
    );
    assert.doesNotMatch(res.text, /\.Fail\b/);
    const line = await gateway.logs.find((l) => l.correlationId === 'grpc-method');
    assert.match(String(line.msg), /^Subgraph "mapping" answered NOT_FOUND to \w+\.Fail\.$/);
  });

  test('a call past the deadline is GATEWAY_TIMEOUT', async () => {
    const res = await post(gateway.url, { query: '{ slow(millis: 2000) { aString } }' });
    assert.equal(res.json.errors[0].extensions.code, 'GATEWAY_TIMEOUT');
    assert.equal(res.json.errors[0].extensions.grpcStatus, 'DEADLINE_EXCEEDED');
  });

  test('a call gets no more than what is left of the request budget', async () => {
    const tight = await startTestGateway({
      configFile: project.configFile,
      server: { request_timeout: 400 },
    });
    try {
      const res = await post(tight.url, { query: '{ slow(millis: 3000) { aString } }' });
      assert.equal(res.json.errors[0].extensions.code, 'GATEWAY_TIMEOUT');
      // The source allows 300 ms here and the request 400 ms: the backend saw the smaller.
      const budget = service.budgets.at(-1)!;
      assert.ok(budget > 0 && budget <= 300, `deadline ${budget} ms`);
    } finally {
      await tight.close();
    }
    const roomy = await startTestGateway({
      configFile: project.configFile,
      server: { request_timeout: 200 },
    });
    try {
      await post(roomy.url, { query: '{ slow(millis: 3000) { aString } }' });
      const budget = service.budgets.at(-1)!;
      assert.ok(
        budget > 0 && budget <= 200,
        `the request budget (200 ms) bounds the call: ${budget} ms`,
      );
    } finally {
      await roomy.close();
    }
  });

  test('a server stream is a list of at most max_stream_messages', async () => {
    const short = await post(gateway.url, { query: '{ listNumbers(count: 2) { value } }' });
    assert.deepEqual(short.json.data.listNumbers, [{ value: 1 }, { value: 2 }]);
    const long = await post(gateway.url, { query: '{ listNumbers(count: 50) { value } }' });
    assert.deepEqual(long.json.data.listNumbers, [{ value: 1 }, { value: 2 }, { value: 3 }]);
  });

  test('stage-set headers travel as metadata, and the method override makes Slow a query', async () => {
    const before = service.metadata.length;
    await post(
      gateway.url,
      { query: 'mutation { echo { aBool } }' },
      { 'x-correlation-id': 'grpc-7', authorization: 'Bearer no' },
    );
    const md = service.metadata[before]!;
    assert.deepEqual(md.get('x-correlation-id'), ['grpc-7']);
    assert.deepEqual(md.get('authorization'), []);
  });

  // Last: it stops the service.
  test('a backend that goes down fails its fields, and serves again when it comes back', async () => {
    const port = Number(service.address.split(':')[1]);
    await service.close();
    const down = await post(gateway.url, { query: 'mutation { echo(aString: "x") { aString } }' });
    assert.equal(down.json.errors[0].extensions.code, 'UPSTREAM_UNAVAILABLE');
    service = await startMappingServer(port);
    // grpc-js reconnects on its own backoff (about 1 s); there is no event to await from here,
    // so ask again a bounded number of times.
    let answer: unknown;
    for (let i = 0; i < 40 && answer === undefined; i++) {
      const res = await post(gateway.url, {
        query: 'mutation { echo(aString: "back") { aString } }',
      });
      if (res.json.data?.echo) answer = res.json.data.echo;
      else await new Promise((r) => setTimeout(r, 250));
    }
    assert.deepEqual(answer, { aString: 'back' });
  });
});
