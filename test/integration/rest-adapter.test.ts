import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { stringify } from 'yaml';
import { CATALOG, LIBRARY_SDL, startLibrary } from '../fixtures/rest/library.ts';
import {
  post,
  startSubgraphs,
  startTestGateway,
  writeProject,
  type TestGateway,
} from '../helpers/env.ts';

/** The REST adapter against a real REST service on loopback, through the whole gateway. */
describe('a REST service as a subgraph', () => {
  let library: Awaited<ReturnType<typeof startLibrary>>;
  let catalog: Awaited<ReturnType<typeof startSubgraphs>>;
  let project: Awaited<ReturnType<typeof writeProject>>;
  let gateway: TestGateway;

  before(async () => {
    library = await startLibrary();
    catalog = await startSubgraphs([CATALOG]);
    project = await writeProject([
      ...catalog.servers,
      { name: 'library', url: 'http://unused.invalid', sdl: LIBRARY_SDL },
    ]);
    await project.write(
      'supergraph.yaml',
      stringify({
        subgraphs: {
          catalog: { routing_url: catalog.servers[0]!.url, schema: { file: './catalog.graphql' } },
          library: {
            schema: { file: './library.graphql' },
            source: {
              kind: 'rest',
              base_url: library.url,
              timeout: '300ms',
              headers: { 'x-api-key': 'k-123' },
              forward_headers: ['X-Tenant'],
            },
          },
        },
      }),
    );
    gateway = await startTestGateway({ configFile: project.configFile });
  });

  after(async () => {
    await gateway.close();
    await catalog.close();
    await library.close();
    await project.remove();
  });

  /** Runs a query and returns the backend calls it made. */
  async function run(
    query: string,
    headers: Record<string, string> = {},
    variables?: Record<string, unknown>,
  ) {
    const before = library.calls.length;
    const res = await post(gateway.url, { query, variables }, headers);
    return { res, calls: library.calls.slice(before) };
  }

  test('a path template fills in an argument and a renamed property is read', async () => {
    const { res, calls } = await run('{ author(id: "3") { id name } }');
    assert.deepEqual(res.json, { data: { author: { id: '3', name: 'Author 3' } } });
    assert.deepEqual(
      calls.map((c) => `${c.method} ${c.url}`),
      ['GET /authors/3'],
    );
  });

  test('a nested field calls with a parent field, through its renamed property', async () => {
    const { res, calls } = await run('{ author(id: "2") { books { title author { name } } } }');
    assert.deepEqual(res.json.data.author.books, [
      { title: 'Book 2', author: { name: 'Author 2' } },
      { title: 'Book 7', author: { name: 'Author 2' } },
      { title: 'Book 12', author: { name: 'Author 2' } },
      { title: 'Book 17', author: { name: 'Author 2' } },
    ]);
    assert.deepEqual(calls.map((c) => c.url).slice(0, 2), ['/authors/2', '/authors/2/books']);
  });

  test('query parameters come from arguments, lists comma-joined, defaults applied; select picks the result', async () => {
    const { res, calls } = await run('{ search(q: "war & peace", tags: ["a", "b"]) { isbn } }');
    assert.deepEqual(res.json, { data: { search: [{ isbn: 'b1' }, { isbn: 'b2' }] } });
    assert.deepEqual(
      calls.map((c) => c.url),
      ['/search?q=war+%26+peace&tag=a%2Cb&limit=10'],
    );
  });

  test('headers: allowlisted client headers, configured headers, the field’s headers and the correlation id', async () => {
    const { res } = await run('{ echo { correlation tenant other apiKey mode } }', {
      'x-tenant': 'acme',
      'x-other': 'not forwarded',
      'x-correlation-id': 'rest-1',
    });
    assert.deepEqual(res.json.data.echo, {
      correlation: 'rest-1',
      tenant: 'acme',
      other: null,
      apiKey: 'k-123',
      mode: 'fixed',
    });
  });

  test('a JSON body is built from an input object', async () => {
    const { res, calls } = await run(
      'mutation { addBook(input: { title: "New", authorId: "4" }) { isbn title authorId } }',
    );
    assert.deepEqual(res.json, {
      data: { addBook: { isbn: 'b-new', title: 'New', authorId: '4' } },
    });
    assert.equal(calls[0]?.method, 'POST');
    assert.deepEqual(JSON.parse(calls[0]!.body), { title: 'New', authorId: '4' });
    assert.match(String(calls[0]?.headers['content-type']), /^application\/json/);
  });

  test('a JSON body is built from an object template, with a field header', async () => {
    const { res, calls } = await run(
      'mutation { renameBook(isbn: "b3", title: "Renamed") { isbn title } }',
    );
    assert.deepEqual(res.json, { data: { renameBook: { isbn: 'b3', title: 'Renamed' } } });
    assert.equal(`${calls[0]?.method} ${calls[0]?.url}`, 'PATCH /books/b3');
    assert.deepEqual(JSON.parse(calls[0]!.body), { title: 'Renamed' });
    assert.equal(calls[0]?.headers['x-reason'], 'rename');
  });

  test('20 entity references with 5 repeated become 2 batch calls of at most 8 distinct keys', async () => {
    const { res, calls } = await run('{ featuredAuthors { id name } }');
    assert.equal(res.json.data.featuredAuthors.length, 20);
    assert.equal(res.json.data.featuredAuthors[19].name, 'Author 5');
    // 15 distinct keys, maxBatch 8: one call of 8 and one of 7, and no key twice.
    assert.equal(calls.length, 2);
    const ids = calls.flatMap((c) =>
      new URL(c.url, 'http://x').searchParams.get('ids')!.split(','),
    );
    assert.deepEqual(
      ids.sort((a, b) => Number(a) - Number(b)),
      Array.from({ length: 15 }, (_, i) => String(i + 1)),
    );
  });

  test('20 entity references with 5 repeated become 15 per-key calls', async () => {
    const { res, calls } = await run('{ featuredBooks { isbn title } }');
    assert.equal(res.json.data.featuredBooks.length, 20);
    assert.equal(calls.length, 15);
    assert.equal(new Set(calls.map((c) => c.url)).size, 15);
  });

  /** Each failing status: the field is null with its code, the rest of the data is there. */
  const statuses: [number, string][] = [
    [404, 'NOT_FOUND'],
    [400, 'BAD_USER_INPUT'],
    [422, 'BAD_USER_INPUT'],
    [401, 'UNAUTHENTICATED'],
    [403, 'FORBIDDEN'],
    // The backend's own limit keeps a code of its own: RATE_LIMITED is the gateway's budgets.
    [429, 'UPSTREAM_RATE_LIMITED'],
    [500, 'UPSTREAM_ERROR'],
    [503, 'UPSTREAM_ERROR'],
  ];
  for (const [status, code] of statuses) {
    test(`HTTP ${status} from the service is ${code} on the field, with partial data`, async () => {
      const { res } = await run(`{ author(id: "1") { name } failing(status: ${status}) }`);
      assert.deepEqual(res.json.data, { author: { name: 'Author 1' }, failing: null });
      assert.equal(res.json.errors.length, 1);
      assert.deepEqual(res.json.errors[0].path, ['failing']);
      assert.equal(res.json.errors[0].extensions.code, code);
      assert.equal(res.json.errors[0].extensions.subgraph, 'library');
      assert.equal(res.json.errors[0].extensions.upstreamStatus, status);
      assert.doesNotMatch(res.text, /secret backend detail|127\.0\.0\.1/);
    });
  }

  const failures: [string, string, string][] = [
    ['an HTML page', 'html', 'UPSTREAM_ERROR'],
    ['a service that hangs past the timeout', 'hang', 'GATEWAY_TIMEOUT'],
    ['a connection reset', 'reset', 'UPSTREAM_UNAVAILABLE'],
    ['an object where the schema wants a list', 'wrongShape { isbn }', 'UPSTREAM_ERROR'],
  ];
  for (const [name, field, code] of failures) {
    test(`${name} is ${code} on the field, with partial data`, async () => {
      const { res } = await run(`{ author(id: "1") { name } ${field} }`);
      assert.equal(res.json.data.author.name, 'Author 1');
      assert.equal(res.json.errors[0].extensions.code, code);
      assert.equal(res.json.errors[0].extensions.subgraph, 'library');
    });
  }

  test('a change to the adapter SDL is served after a hot reload', async () => {
    const reloaded = once(gateway.running.app.manager, 'reload');
    await project.write(
      'library.graphql',
      LIBRARY_SDL.replace(
        'type Query {',
        'type Query {\n  firstBook: Book @rest(get: "/books/b1")',
      ),
    );
    assert.equal(((await reloaded)[0] as { ok: boolean }).ok, true);
    const { res } = await run('{ firstBook { title author { name } } }');
    assert.deepEqual(res.json, {
      data: { firstBook: { title: 'Book 1', author: { name: 'Author 1' } } },
    });
  });

  test('a 404 on a nullable root field gives null and NOT_FOUND; production names no path template, the log does', async () => {
    const { res } = await run('{ author(id: "99") { name } }', { 'x-correlation-id': 'rest-404' });
    assert.deepEqual(res.json.data, { author: null });
    assert.equal(res.json.errors[0].extensions.code, 'NOT_FOUND');
    assert.equal(res.json.errors[0].extensions.subgraph, 'library');
    assert.equal(res.json.errors[0].message, 'Subgraph "library" answered 404.');
    const line = await gateway.logs.find((l) => l.correlationId === 'rest-404');
    assert.equal(line.msg, 'Subgraph "library" answered HTTP 404 to GET /authors/{args.id}.');
  });

  // Last: it stops the service.
  test('a service that is down is UPSTREAM_UNAVAILABLE on the field, and the rest still answers', async () => {
    const down = await startTestGateway({ configFile: project.configFile });
    try {
      await library.close();
      const res = await post(down.url, { query: '{ author(id: "1") { name } }' });
      assert.deepEqual(res.json.data, { author: null });
      assert.equal(res.json.errors[0].extensions.code, 'UPSTREAM_UNAVAILABLE');
      assert.equal(res.json.errors[0].extensions.subgraph, 'library');
    } finally {
      await down.close();
    }
  });
});
