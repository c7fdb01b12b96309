import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { launchChromium } from '../helpers/browser.ts';
import { startGatewayOver, type TestGateway } from '../helpers/env.ts';

const tree = {
  name: 'tree',
  sdl: `extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Query { hello: String }`,
  resolvers: { Query: { hello: () => 'world' } },
};

/** A page server on its own loopback port: another origin than the gateway's. */
async function startPageServer(): Promise<{ origin: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end('<!doctype html><title>page</title>');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('CORS in a browser: a page of another origin calls the gateway', () => {
  let allowed: Awaited<ReturnType<typeof startPageServer>>;
  let refused: Awaited<ReturnType<typeof startPageServer>>;
  let gateway: TestGateway;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  let close: () => Promise<void>;

  before(async () => {
    allowed = await startPageServer();
    refused = await startPageServer();
    const env = await startGatewayOver([tree], {
      config: {
        clients: { web: { cors: { origins: [allowed.origin], allow_credentials: true } } },
      },
    });
    gateway = env.gateway;
    chromium = await launchChromium();
    close = async () => {
      await chromium.close();
      await env.close();
      allowed.server.close();
      refused.server.close();
    };
  });
  after(() => close());

  /** Runs a credentialed JSON POST (preflighted: application/json) from a page of `origin`. */
  async function fetchFrom(origin: string) {
    const page = await chromium.context.newPage();
    try {
      await page.goto(origin);
      return await page.evaluate(async (url) => {
        try {
          const res = await fetch(url, {
            method: 'POST',
            credentials: 'include',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ query: '{ hello }' }),
          });
          return {
            status: res.status,
            body: await res.json(),
            correlation: res.headers.get('x-correlation-id'),
          };
        } catch (error) {
          return { failed: String(error) };
        }
      }, `${gateway.origin}/graphql/web`);
    } finally {
      await page.close();
    }
  }

  test('an allowed origin reads the answer, and the exposed correlation id', async () => {
    const result = await fetchFrom(allowed.origin);
    assert.ok('status' in result, JSON.stringify(result));
    assert.equal(result.status, 200);
    assert.deepEqual(result.body, { data: { hello: 'world' } });
    assert.ok(result.correlation, 'x-correlation-id is exposed by default');
  });

  test('an origin not allowed: the browser fails the fetch', async () => {
    const result = await fetchFrom(refused.origin);
    assert.deepEqual(result, { failed: 'TypeError: Failed to fetch' });
  });
});
