import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { stringify } from 'yaml';
import { startLibraryServer } from '../fixtures/protos/library-server.ts';
import {
  MAPPING_PROTOS,
  mappingSource,
  startMappingServer,
} from '../fixtures/protos/mapping-server.ts';
import { get, post, startTestGateway, writeProject, type TestGateway } from '../helpers/env.ts';

/** The mapping service as a gRPC subgraph and the library service transcoded. */
function configFor(
  mappingAddress: string,
  libraryAddress: string,
  options: { libraryExtra?: object; mappingTranscoded?: boolean } = {},
): string {
  return stringify({
    subgraphs: {
      mapping: {
        source: mappingSource(mappingAddress, { timeout: '300ms' }),
      },
    },
    transcode: {
      library: {
        address: libraryAddress,
        protos: ['transcode/v1/library.proto'],
        include_dirs: [MAPPING_PROTOS],
        ...options.libraryExtra,
      },
      ...(options.mappingTranscoded ? { mapping: { subgraph: 'mapping' } } : {}),
    },
    server: { body_limit: 2048 },
  });
}

/** gRPC services served as HTTP/JSON by their google.api.http annotations, on real servers. */
describe('REST to gRPC transcoding', () => {
  let library: Awaited<ReturnType<typeof startLibraryServer>>;
  let mapping: Awaited<ReturnType<typeof startMappingServer>>;
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateway: TestGateway;

  before(async () => {
    library = await startLibraryServer();
    mapping = await startMappingServer();
    project = await writeProject([]);
    await project.write(
      'supergraph.yaml',
      configFor(mapping.address, library.address, {
        libraryExtra: { response_headers: ['x-book-etag'] },
        // The subgraph's backend, served as REST too: its methods carry no annotations.
        mappingTranscoded: true,
      }),
    );
    gateway = await startTestGateway({ configFile: project.configFile });
  });

  after(async () => {
    await gateway.close();
    await library.close();
    await mapping.close();
    await project.remove();
  });

  const seen = (result: { json: any }) => ({
    method: result.json.method,
    request: JSON.parse(result.json.requestJson),
  });
  const call = async (method: string, path: string, body?: unknown, headers = {}) => {
    const response = await request(`${gateway.origin}${path}`, {
      method: method as 'GET',
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.body.text();
    return {
      status: response.statusCode,
      headers: response.headers,
      text,
      json: text ? JSON.parse(text) : undefined,
    };
  };

  // [HTTP method, path with query, body, the RPC that runs, the request message it receives]
  const CASES: [string, string, unknown, string, object][] = [
    [
      'GET',
      '/v1/shelves/1/books/2',
      undefined,
      'GetBook',
      { name: 'shelves/1/books/2' }, // a segment pattern binds the whole matched path
    ],
    [
      'GET',
      '/v1/archive/old/shelves/9',
      undefined,
      'GetBook',
      { name: 'old/shelves/9' }, // additional_bindings, `**` spans segments
    ],
    [
      'GET',
      '/v1/shelves/1/books/a%20b%2Fc',
      undefined,
      'GetBook',
      { name: 'shelves/1/books/a b%2Fc' }, // multi-segment value: %2F stays encoded
    ],
    [
      'POST',
      '/v1/shelves/7/books?request_id=r-1',
      { title: 'Dune', pages: '412', genre: 'GENRE_FICTION' },
      'CreateBook',
      {
        parent: 'shelves/7',
        book: { title: 'Dune', pages: '412', genre: 'GENRE_FICTION' },
        request_id: 'r-1',
      }, // body: "book", the rest from the path and the query
    ],
    [
      'PATCH',
      '/v1/shelves/1/books/2',
      { book: { title: 'New' }, validateOnly: true },
      'UpdateBook',
      { book: { name: 'shelves/1/books/2', title: 'New' }, validate_only: true }, // body "*", nested path field
    ],
    [
      'GET',
      '/v1/books:search?query=dune&tags=a&tags=b&page.size=10&page.token=t&genre=GENRE_SCIENCE&after=2020-01-02T03:04:05.5Z&min_pages=100&maxPages=900&in_stock=true',
      undefined,
      'SearchBooks',
      {
        query: 'dune',
        tags: ['a', 'b'],
        page: { size: 10, token: 't' },
        genre: 'GENRE_SCIENCE',
        after: { seconds: '1577934245', nanos: 500000000 },
        min_pages: { value: 100 },
        max_pages: '900',
        in_stock: true,
      }, // repeated, nested, enum, Timestamp, wrapper, int64, bool, both name forms
    ],
    ['GET', '/v1/books:search?genre=1', undefined, 'SearchBooks', { genre: 'GENRE_FICTION' }],
    [
      'POST',
      '/v1/shelves/1/books/2:archive',
      undefined,
      'ArchiveBook',
      { name: 'shelves/1/books/2' }, // a custom verb
    ],
    ['DELETE', '/v1/shelves/1/books/2', undefined, 'DeleteBook', { name: 'shelves/1/books/2' }],
  ];

  for (const [method, path, body, rpc, expected] of CASES) {
    test(`${method} ${path} calls ${rpc} with the request the rules build`, async () => {
      const result = await call(method, path, body);
      assert.equal(result.status, 200, result.text);
      assert.deepEqual(seen(result), { method: rpc, request: expected });
    });
  }

  test('response_body answers with that field: a JSON array of books in ProtoJSON', async () => {
    const result = await get(`${gateway.origin}/v1/shelves/1/books`);
    assert.equal(result.status, 200);
    assert.deepEqual(result.json, [
      {
        name: 'shelves/1/books/1',
        title: 'Dune',
        pages: '412',
        genre: 'GENRE_FICTION',
        published: '1965-07-07T00:00:00Z',
      },
      // Default values (pages 0) are left out, as ProtoJSON writes them by default.
      { name: 'shelves/1/books/2', title: 'Cosmos', genre: 'GENRE_SCIENCE' },
    ]);
  });

  test('an empty response_body field answers [] rather than nothing', async () => {
    const result = await get(`${gateway.origin}/v1/shelves/9/books`);
    assert.equal(result.status, 200);
    assert.deepEqual(result.json, []);
  });

  test('allowlisted response metadata becomes headers; the rest stays behind', async () => {
    const result = await get(`${gateway.origin}/v1/shelves/1/books/2`);
    assert.equal(result.headers['x-book-etag'], 'v7');
    assert.equal(result.headers['x-internal-shard'], undefined);
  });

  test('every scalar, enum and well-known type round-trips in ProtoJSON through an unannotated method', async () => {
    const input = {
      aDouble: 1.5,
      an_int32: -7, // the proto name is accepted too
      anInt64: '9223372036854775807',
      aUint64: '18446744073709551615',
      aSint64: '-9223372036854775808',
      aBool: true,
      aString: 'héllo',
      someBytes: 'AQID/w==',
      color: 2, // an enum by number
      inner: { label: 'x', counts: ['1', '-2'] },
      tags: ['a', 'b'],
      scores: { ada: 3 },
      choiceNumber: 0,
      maybe: '',
      at: '2024-02-29T12:34:56.123456789+02:00',
      took: '-1.500s',
      wrappedInt64: '-5',
      wrappedString: '',
      attributes: { nested: { list: [1, 'two', null, true] } },
      anything: ['x', 1],
    };
    const result = await post(`${gateway.origin}/mapping.v1.MappingService/Echo`, input);
    assert.equal(result.status, 200, result.text);
    assert.deepEqual(result.json, {
      aDouble: 1.5,
      anInt32: -7,
      anInt64: '9223372036854775807',
      aUint64: '18446744073709551615',
      aSint64: '-9223372036854775808',
      aBool: true,
      aString: 'héllo',
      someBytes: 'AQID/w==',
      color: 'COLOR_GREEN',
      inner: { label: 'x', counts: ['1', '-2'] },
      tags: ['a', 'b'],
      scores: { ada: 3 },
      choiceNumber: 0, // a oneof member is written when set, even to its default
      maybe: '', // so is a proto3 optional field
      at: '2024-02-29T10:34:56.123456789Z',
      took: '-1.500s',
      wrappedInt64: '-5',
      wrappedString: '',
      attributes: { nested: { list: [1, 'two', null, true] } },
      anything: ['x', 1],
    });
  });

  test('the correlation id reaches the gRPC backend as metadata', async () => {
    await post(
      `${gateway.origin}/mapping.v1.MappingService/Echo`,
      {},
      {
        'x-correlation-id': 'transcode-corr-1',
      },
    );
    const received = mapping.metadata.map((md) => md.get('x-correlation-id')[0]);
    assert.ok(received.includes('transcode-corr-1'));
  });

  test('a server stream answers as newline-delimited JSON, one message per line', async () => {
    const result = await post(`${gateway.origin}/mapping.v1.MappingService/ListNumbers`, {
      count: 3,
    });
    assert.equal(result.status, 200);
    assert.match(String(result.headers['content-type']), /^application\/x-ndjson/);
    assert.deepEqual(
      result.text
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line)),
      [{ value: 1 }, { value: 2 }, { value: 3 }],
    );
  });

  // gRPC status -> HTTP status (google/rpc/code.proto), with a google.rpc.Status body.
  const STATUS_TABLE: [number, string, number][] = [
    [3, 'INVALID_ARGUMENT', 400],
    [5, 'NOT_FOUND', 404],
    [6, 'ALREADY_EXISTS', 409],
    [7, 'PERMISSION_DENIED', 403],
    [8, 'RESOURCE_EXHAUSTED', 429],
    [9, 'FAILED_PRECONDITION', 400],
    [10, 'ABORTED', 409],
    [11, 'OUT_OF_RANGE', 400],
    [12, 'UNIMPLEMENTED', 501],
    [13, 'INTERNAL', 500],
    [14, 'UNAVAILABLE', 503],
    [15, 'DATA_LOSS', 500],
    [16, 'UNAUTHENTICATED', 401],
    [2, 'UNKNOWN', 500],
    [1, 'CANCELLED', 499],
  ];
  for (const [code, name, http] of STATUS_TABLE) {
    test(`gRPC ${name} answers HTTP ${http} with a Status body`, async () => {
      const result = await post(`${gateway.origin}/mapping.v1.MappingService/Fail`, { code });
      assert.equal(result.status, http);
      assert.equal(result.json.code, code);
      assert.equal(result.json.details[0]['@type'], 'type.googleapis.com/google.rpc.ErrorInfo');
      assert.match(result.json.details[0].metadata.correlationId, /^[0-9a-f-]{36}$/);
      // Production mode: a client error keeps the API's message, a server failure is masked.
      if (http < 500) assert.equal(result.json.message, 'secret backend detail');
      else assert.doesNotMatch(result.text, /secret backend detail/);
    });
  }

  test('a backend’s own RESOURCE_EXHAUSTED keeps its own reason, not the gateway’s RATE_LIMITED', async () => {
    const result = await post(`${gateway.origin}/mapping.v1.MappingService/Fail`, { code: 8 });
    assert.equal(result.status, 429);
    assert.equal(result.json.details[0].reason, 'UPSTREAM_RATE_LIMITED');
  });

  test('a backend past its deadline answers 504 DEADLINE_EXCEEDED', async () => {
    const result = await post(`${gateway.origin}/mapping.v1.MappingService/Slow`, { millis: 2000 });
    assert.equal(result.status, 504);
    assert.equal(result.json.code, 4);
  });

  describe('bad input', () => {
    test('an unknown path answers 404 with a Status body', async () => {
      const result = await get(`${gateway.origin}/v1/nothing/here`);
      assert.equal(result.status, 404);
      assert.equal(result.json.code, 5);
      assert.equal(result.json.details[0].reason, 'NOT_FOUND');
    });

    test('a method the path does not take answers 405 naming the ones it does', async () => {
      const result = await call('PUT', '/v1/shelves/1/books/2', {});
      assert.equal(result.status, 405);
      assert.equal(result.headers.allow, 'GET, PATCH, DELETE');
    });

    test('malformed JSON answers 400 naming the problem', async () => {
      const result = await call('POST', '/v1/shelves/1/books', '{"title": ');
      assert.equal(result.status, 400);
      assert.match(result.json.message, /not valid JSON/);
      assert.equal(result.json.code, 3);
    });

    test('a body that is not JSON answers 415', async () => {
      const result = await call('POST', '/v1/shelves/1/books', undefined, {
        'content-type': 'text/plain',
      });
      const withBody = await request(`${gateway.origin}/v1/shelves/1/books`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'title=Dune',
      });
      assert.equal(result.status, 200, 'an empty body is an empty message');
      assert.equal(withBody.statusCode, 415);
      assert.equal(((await withBody.body.json()) as any).code, 3);
    });

    test('a field of the wrong type answers 400 naming the field', async () => {
      const result = await call('POST', '/v1/shelves/1/books', { pages: 'many' });
      assert.equal(result.status, 400);
      assert.match(result.json.message, /book\.pages/);
      assert.equal(result.json.details[0].metadata.field, 'book.pages');
    });

    test('a query parameter of the wrong type answers 400 naming it', async () => {
      const result = await get(`${gateway.origin}/v1/books:search?page.size=ten`);
      assert.equal(result.status, 400);
      assert.equal(result.json.details[0].metadata.field, 'page.size');
    });

    test('an unknown query parameter answers 400 naming it', async () => {
      const result = await get(`${gateway.origin}/v1/books:search?colour=red`);
      assert.equal(result.status, 400);
      assert.equal(result.json.details[0].metadata.field, 'colour');
    });

    test('an oversize body answers 413', async () => {
      const result = await call('POST', '/v1/shelves/1/books', { title: 'x'.repeat(4096) });
      assert.equal(result.status, 413);
      assert.equal(result.json.details[0].reason, 'PAYLOAD_TOO_LARGE');
    });
  });
});

describe('REST to gRPC with the backend down', () => {
  test('answers 503 UNAVAILABLE with a Status body, and the gateway keeps serving', async (t) => {
    const library = await startLibraryServer();
    const address = library.address;
    await library.close();
    const project = await writeProject([]);
    const mapping = await startMappingServer();
    t.after(async () => {
      await gateway.close();
      await mapping.close();
      await project.remove();
    });
    await project.write('supergraph.yaml', configFor(mapping.address, address));
    const gateway = await startTestGateway({ configFile: project.configFile });
    const down = await get(`${gateway.origin}/v1/shelves/1/books/2`);
    assert.equal(down.status, 503);
    assert.equal(down.json.code, 14);
    assert.equal(down.json.details[0].reason, 'UPSTREAM_UNAVAILABLE');
    const graph = await post(gateway.url, { query: '{ getNothing }' });
    assert.equal(graph.status, 200);
  });
});
