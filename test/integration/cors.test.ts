import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import {
  read,
  startGatewayOver,
  type GatewayOver,
  type HttpResult,
  type TestGateway,
} from '../helpers/env.ts';
import type { SubgraphServerOptions } from '../helpers/subgraph-server.ts';

const tree: Omit<SubgraphServerOptions, 'port'> = {
  name: 'tree',
  sdl: `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Node { id: ID! }
type Query { node: Node }`,
  resolvers: { Query: { node: () => ({ id: '1' }) } },
};

const QUERY = '{ node { id } }';
const WEB = 'https://web.example';
const MOBILE = 'https://mobile.example';
const SITE = 'https://site.example';
const ACME_KEY = 'acme-key-0123456789';
const PREFLIGHT_VARY = 'origin, access-control-request-method, access-control-request-headers';

/** An OPTIONS preflight as a browser sends it: no credentials, no body. */
async function preflight(
  url: string,
  origin: string,
  method: string,
  requestHeaders?: string,
): Promise<HttpResult> {
  return read(
    await request(url, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': method,
        ...(requestHeaders ? { 'access-control-request-headers': requestHeaders } : {}),
      },
    }),
  );
}

/** A POST of `QUERY` as a page's fetch sends it (`Origin` unless `origin` is undefined). */
async function postFrom(
  url: string,
  origin: string | undefined,
  body: unknown = { query: QUERY },
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  return read(
    await request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(origin ? { origin } : {}),
        ...headers,
      },
      body: JSON.stringify(body),
    }),
  );
}

async function getFrom(url: string, origin: string, headers: Record<string, string> = {}) {
  return read(await request(url, { method: 'GET', headers: { origin, ...headers } }));
}

const CORS_HEADERS = [
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-allow-methods',
  'access-control-allow-headers',
  'access-control-expose-headers',
  'access-control-max-age',
];

/** The Access-Control-* headers of an answer, to assert none is there. */
const corsHeadersOf = (res: HttpResult) => CORS_HEADERS.filter((h) => res.headers[h] !== undefined);

describe('CORS: per-client origins, preflights answered by the gateway', () => {
  let gateway: TestGateway;
  let close: () => Promise<void>;
  let upstreamCalls = 0;
  let backendCalls = 0;

  before(async () => {
    // A REST backend with CORS rules of its own, which the gateway's must replace.
    const backend = createServer((_req, res) => {
      backendCalls++;
      res.setHeader('access-control-allow-origin', '*');
      res.setHeader('access-control-allow-credentials', 'true');
      res.setHeader('vary', 'accept-encoding');
      res.setHeader('content-type', 'text/plain');
      res.end('ok');
    });
    backend.listen(0, '127.0.0.1');
    await once(backend, 'listening');
    const backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
    const env = await startGatewayOver(
      [
        {
          ...tree,
          resolvers: {
            Query: {
              node: () => {
                upstreamCalls++;
                return { id: '1' };
              },
            },
          },
        },
      ],
      {
        config: {
          server: { body_limit: '2kb' },
          auth: {
            api_keys: {
              keys: [
                {
                  name: 'acme-app',
                  sha256: createHash('sha256').update(ACME_KEY).digest('hex'),
                  client_id: 'acme',
                },
              ],
            },
          },
          // Every endpoint without a client of its own: server.graphql_path (no default client
          // here) and the REST surface.
          cors: { origins: [SITE] },
          routes: [{ path_prefix: '/rest', backends: [{ url: backendUrl }] }],
          clients: {
            web: {
              api_keys: ['acme'],
              cors: { origins: [WEB], allow_credentials: true, max_age: '10m' },
            },
            mobile: {
              cors: {
                origins: [MOBILE],
                match_origins: ['https://[a-z]+\\.mobile\\.example'],
                allow_headers: ['content-type', 'apollo-require-preflight'],
                expose_headers: ['x-request-cost'],
                methods: ['POST'],
              },
            },
            // No cors of its own: the top-level rules.
            partner: { auth: 'required' },
            metered: {
              cors: { origins: [WEB] },
              limits: { rate: { policies: [{ name: 'tight', limit: 1, window: '60s' }] } },
            },
          },
        },
      },
    );
    gateway = env.gateway;
    close = async () => {
      await env.close();
      backend.close();
    };
  });
  after(() => close());

  const at = (path: string) => `${gateway.origin}${path}`;

  test('a preflight from an allowed origin is 204 with the allow headers, the origin echoed', async () => {
    const res = await preflight(at('/graphql/web'), WEB, 'POST', 'Content-Type, X-Trace');
    assert.equal(res.status, 204);
    assert.equal(res.text, '');
    assert.equal(res.headers['access-control-allow-origin'], WEB);
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers['access-control-allow-methods'], 'GET, POST, OPTIONS');
    // No allow_headers: what the preflight asked for is mirrored.
    assert.equal(res.headers['access-control-allow-headers'], 'content-type, x-trace');
    // max_age 10m, in seconds.
    assert.equal(res.headers['access-control-max-age'], '600');
    assert.equal(res.headers.vary, PREFLIGHT_VARY);
    assert.ok(res.headers['x-correlation-id'], 'the correlate stage ran first');
  });

  test('each client allows its own origins: web is refused on mobile and mobile on web', async () => {
    const webOnMobile = await preflight(at('/graphql/mobile'), WEB, 'POST');
    assert.equal(webOnMobile.status, 403);
    assert.deepEqual(corsHeadersOf(webOnMobile), []);
    assert.equal(webOnMobile.headers.vary, PREFLIGHT_VARY);
    const mobileOnWeb = await preflight(at('/graphql/web'), MOBILE, 'POST');
    assert.equal(mobileOnWeb.status, 403);
    assert.deepEqual(corsHeadersOf(mobileOnWeb), []);
    const mobile = await preflight(at('/graphql/mobile'), MOBILE, 'POST', 'content-type');
    assert.equal(mobile.status, 204);
    assert.equal(mobile.headers['access-control-allow-origin'], MOBILE);
    // Not configured: no credentials header, no max-age (browsers keep 5 seconds).
    assert.equal(mobile.headers['access-control-allow-credentials'], undefined);
    assert.equal(mobile.headers['access-control-max-age'], undefined);
  });

  test('match_origins are anchored regular expressions', async () => {
    const beta = await preflight(at('/graphql/mobile'), 'https://beta.mobile.example', 'POST');
    assert.equal(beta.status, 204);
    assert.equal(beta.headers['access-control-allow-origin'], 'https://beta.mobile.example');
    for (const origin of [
      'https://beta.mobile.example.evil.com',
      'http://beta.mobile.example',
      'https://a.b.mobile.example',
    ]) {
      const res = await preflight(at('/graphql/mobile'), origin, 'POST');
      assert.equal(res.status, 403, origin);
      assert.deepEqual(corsHeadersOf(res), [], origin);
    }
  });

  test('the opaque origin null is never allowed', async () => {
    const res = await preflight(at('/graphql/web'), 'null', 'POST');
    assert.equal(res.status, 403);
    assert.deepEqual(corsHeadersOf(res), []);
  });

  test('a method the endpoint does not list is refused at the preflight', async () => {
    const put = await preflight(at('/graphql/web'), WEB, 'PUT');
    assert.equal(put.status, 403);
    assert.deepEqual(corsHeadersOf(put), []);
    // mobile lists POST only.
    const get = await preflight(at('/graphql/mobile'), MOBILE, 'GET');
    assert.equal(get.status, 403);
    const post = await preflight(at('/graphql/mobile'), MOBILE, 'POST');
    assert.equal(post.headers['access-control-allow-methods'], 'POST');
  });

  test('configured allow_headers are sent as they are, whatever the preflight asks', async () => {
    const res = await preflight(at('/graphql/mobile'), MOBILE, 'POST', 'x-other');
    assert.equal(res.status, 204);
    assert.equal(
      res.headers['access-control-allow-headers'],
      'content-type, apollo-require-preflight',
    );
  });

  test('a preflight is answered before authentication and before anything upstream', async () => {
    const calls = upstreamCalls;
    // partner requires a credential; the preflight carries none and is still answered.
    const res = await preflight(
      at('/graphql/partner'),
      SITE,
      'POST',
      'authorization, content-type',
    );
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], SITE);
    assert.equal(res.headers['access-control-allow-headers'], 'authorization, content-type');
    assert.equal(upstreamCalls, calls);
  });

  test('an actual POST from an allowed origin carries the allow and expose headers', async () => {
    const web = await postFrom(at('/graphql/web'), WEB);
    assert.equal(web.status, 200);
    assert.deepEqual(web.json, { data: { node: { id: '1' } } });
    assert.equal(web.headers['access-control-allow-origin'], WEB);
    assert.equal(web.headers['access-control-allow-credentials'], 'true');
    // The default: the gateway's own headers a page may want to read.
    assert.equal(
      web.headers['access-control-expose-headers'],
      'x-correlation-id, ratelimit, ratelimit-policy, retry-after',
    );
    assert.equal(web.headers.vary, 'origin');
    // The preflight-only headers are not on an actual answer.
    assert.equal(web.headers['access-control-allow-methods'], undefined);
    const mobile = await postFrom(at('/graphql/mobile'), MOBILE);
    assert.equal(mobile.headers['access-control-allow-origin'], MOBILE);
    assert.equal(mobile.headers['access-control-expose-headers'], 'x-request-cost');
  });

  test('an actual request from an origin not allowed is served without CORS headers', async () => {
    const res = await postFrom(at('/graphql/web'), 'https://evil.example');
    // Served (the browser hides it from the page): a same-origin POST carries Origin too.
    assert.equal(res.status, 200);
    assert.deepEqual(corsHeadersOf(res), []);
    assert.equal(res.headers.vary, 'origin');
  });

  test('a request without Origin still says Vary: Origin on a CORS endpoint', async () => {
    const res = await postFrom(at('/graphql/web'), undefined);
    assert.equal(res.status, 200);
    assert.deepEqual(corsHeadersOf(res), []);
    assert.equal(res.headers.vary, 'origin');
  });

  test('GET with apollo-require-preflight passes CSRF prevention and carries CORS headers', async () => {
    const url = `${at('/graphql/web')}?query=${encodeURIComponent(QUERY)}`;
    const preflighted = await getFrom(url, WEB, { 'apollo-require-preflight': 'true' });
    assert.equal(preflighted.status, 200);
    assert.equal(preflighted.headers['access-control-allow-origin'], WEB);
    // A simple GET (no preflight) is what CSRF prevention refuses; the refusal still carries
    // CORS headers, so the page can read why.
    const simple = await getFrom(url, WEB);
    assert.equal(simple.status, 400);
    assert.equal(simple.headers['access-control-allow-origin'], WEB);
  });

  test('error answers carry CORS headers: 401, 429, 413, 405 and a REST 404', async () => {
    const anonymous = await postFrom(at('/graphql/partner'), SITE);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers['access-control-allow-origin'], SITE);
    assert.equal(anonymous.headers.vary, 'origin');

    const first = await postFrom(at('/graphql/metered'), WEB);
    assert.equal(first.status, 200);
    const limited = await postFrom(at('/graphql/metered'), WEB);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['access-control-allow-origin'], WEB);
    assert.ok(limited.headers['retry-after']);
    assert.match(String(limited.headers['access-control-expose-headers']), /retry-after/);

    const large = await postFrom(at('/graphql/web'), WEB, { query: QUERY, pad: 'x'.repeat(4096) });
    assert.equal(large.status, 413);
    assert.equal(large.headers['access-control-allow-origin'], WEB);

    // OPTIONS without Access-Control-Request-Method is no preflight: an actual request.
    const options = await read(
      await request(at('/graphql/web'), { method: 'OPTIONS', headers: { origin: WEB } }),
    );
    assert.equal(options.status, 405);
    assert.equal(options.headers['access-control-allow-origin'], WEB);

    const rest = await getFrom(at('/no/such/route'), SITE);
    assert.equal(rest.status, 404);
    assert.equal(rest.headers['access-control-allow-origin'], SITE);
  });

  test('the default endpoint and REST paths follow the top-level cors, not a client', async () => {
    const site = await preflight(at('/graphql'), SITE, 'POST');
    assert.equal(site.status, 204);
    assert.equal(site.headers['access-control-allow-origin'], SITE);
    assert.equal(site.headers['access-control-allow-credentials'], undefined);
    const web = await preflight(at('/graphql'), WEB, 'POST');
    assert.equal(web.status, 403);
    const rest = await preflight(at('/rest/anything'), SITE, 'DELETE');
    assert.equal(rest.status, 403, 'DELETE is not among the default methods');
    const restPost = await preflight(at('/rest/anything'), SITE, 'POST');
    assert.equal(restPost.status, 204);
  });

  test("on a REST route the gateway's CORS replaces the backend's, whose Vary is kept", async () => {
    const site = await getFrom(at('/rest/things'), SITE);
    assert.equal(site.status, 200);
    assert.equal(site.text, 'ok');
    assert.equal(site.headers['access-control-allow-origin'], SITE);
    assert.equal(site.headers['access-control-allow-credentials'], undefined);
    assert.equal(site.headers.vary, 'origin, accept-encoding');
    const evil = await getFrom(at('/rest/things'), 'https://evil.example');
    assert.equal(evil.status, 200);
    assert.deepEqual(corsHeadersOf(evil), []);
    const calls = backendCalls;
    const res = await preflight(at('/rest/things'), SITE, 'POST');
    assert.equal(res.status, 204);
    assert.equal(backendCalls, calls, 'the preflight never reaches the backend');
  });

  test('on server.graphql_path the endpoint decides, not an API key bound to a client', async () => {
    // A key cannot pick the CORS rules: the preflight before it carried no key.
    const res = await postFrom(at('/graphql'), WEB, { query: QUERY }, { 'x-api-key': ACME_KEY });
    assert.equal(res.status, 200);
    assert.deepEqual(corsHeadersOf(res), []);
    const site = await postFrom(at('/graphql'), SITE, { query: QUERY }, { 'x-api-key': ACME_KEY });
    assert.equal(site.headers['access-control-allow-origin'], SITE);
  });
});

describe('CORS: without a cors setting', () => {
  let env: GatewayOver;
  before(async () => {
    env = await startGatewayOver([tree], { config: { clients: { web: {} } } });
  });
  after(() => env.close());

  test('no CORS header and no Vary on any answer; a preflight is not answered as one', async () => {
    for (const path of ['/graphql', '/graphql/web']) {
      const post = await postFrom(`${env.gateway.origin}${path}`, WEB);
      assert.equal(post.status, 200, path);
      assert.deepEqual(corsHeadersOf(post), [], path);
      assert.equal(post.headers.vary, undefined, path);
      const res = await preflight(`${env.gateway.origin}${path}`, WEB, 'POST');
      // The endpoint answers OPTIONS as it always did: GET and POST only.
      assert.equal(res.status, 405, path);
      assert.deepEqual(corsHeadersOf(res), [], path);
    }
  });
});
