import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * GraphiQL in development, served by the gateway itself: the page, the prebuilt UMD bundle of the
 * `graphiql` package, React 18's UMD builds it expects as globals, and a small init script. No
 * CDN: private networks have none, and a page that loads code from outside would run whatever
 * that host serves next to a developer's tokens.
 *
 * Warning: React stays on 18. GraphiQL 3's UMD bundle expects `React` and `ReactDOM` globals, and
 * React 19 ships no UMD builds any more; moving to it means bundling at build time instead.
 */
export const GRAPHIQL_PREFIX = '/-/graphiql/';

interface Asset {
  readonly contentType: string;
  /** Where the bytes come from: a file of an installed package, or the init script's text. */
  readonly source: { file: string } | { text: string };
}

interface LoadedAsset {
  readonly contentType: string;
  readonly body: Buffer;
  readonly etag: string;
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/**
 * Mounts GraphiQL on the element the page renders. The endpoint is relative (`./graphql`) and
 * resolved against the page's own address, so the page works behind a proxy that moves the
 * gateway under another prefix. Headers are not persisted: the headers editor holds tokens, and
 * localStorage would keep them after the tab closes, readable by any script of the origin.
 */
const INIT_SCRIPT = `'use strict';
(function () {
  var root = document.getElementById('graphiql');
  var url = new URL(root.getAttribute('data-endpoint'), window.location.href).href;
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: GraphiQL.createFetcher({ url: url }),
      defaultEditorToolsVisibility: true,
      shouldPersistHeaders: false,
    }),
  );
})();
`;

/**
 * Resolved from this module, not from the working directory: the gateway runs from anywhere.
 * `graphiql` exports only its entry points and `package.json`, so its files are found beside
 * the package.json; React 18 exports no `umd/` path either.
 */
function packageFile(name: string, file: string): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve(`${name}/package.json`)), file);
}

function assetTable(): ReadonlyMap<string, Asset> {
  return new Map<string, Asset>([
    [
      'react.production.min.js',
      { contentType: JS, source: { file: packageFile('react', 'umd/react.production.min.js') } },
    ],
    [
      'react-dom.production.min.js',
      {
        contentType: JS,
        source: { file: packageFile('react-dom', 'umd/react-dom.production.min.js') },
      },
    ],
    [
      'graphiql.min.js',
      { contentType: JS, source: { file: packageFile('graphiql', 'graphiql.min.js') } },
    ],
    [
      'graphiql.min.css',
      { contentType: CSS, source: { file: packageFile('graphiql', 'graphiql.min.css') } },
    ],
    ['init.js', { contentType: JS, source: { text: INIT_SCRIPT } }],
  ]);
}

/** The files the page loads, in order: React before GraphiQL, which reads its globals. */
const SCRIPTS = [
  'react.production.min.js',
  'react-dom.production.min.js',
  'graphiql.min.js',
  'init.js',
];

/**
 * The page allows nothing but the gateway's own files and its own endpoint: no inline script.
 * Inline styles stay allowed, as React sets `style` attributes; the CSS inlines its fonts and
 * icons as data: URLs.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The files are pinned with the package versions; an hour, then a cheap revalidation. */
const CACHE_CONTROL = 'public, max-age=3600';

export interface GraphiQL {
  /** Answers GET or HEAD of a path under GRAPHIQL_PREFIX: the file, a 304, or a 404. */
  serveAsset(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>;
  /** Answers with the page for the GraphQL endpoint at `endpointPath`. */
  servePage(res: ServerResponse, endpointPath: string): void;
}

/**
 * The packages' files are located now, so a missing package fails at start, and read once, on
 * the first request for any of them: a gateway nobody opens in a browser reads nothing.
 */
export function createGraphiQL(): GraphiQL {
  const table = assetTable();
  let loaded: Promise<ReadonlyMap<string, LoadedAsset>> | undefined;
  const load = async () =>
    new Map(
      await Promise.all(
        [...table].map(async ([name, asset]): Promise<[string, LoadedAsset]> => {
          const body =
            'file' in asset.source
              ? await readFile(asset.source.file)
              : Buffer.from(asset.source.text);
          const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
          return [name, { contentType: asset.contentType, body, etag }];
        }),
      ),
    );
  return {
    async serveAsset(req, res, path) {
      const method = req.method ?? 'GET';
      if (method !== 'GET' && method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
        res.end(`Method ${method} is not allowed on ${path}; use GET.\n`);
        return;
      }
      loaded ??= load();
      // A failed read is retried by the next request rather than remembered.
      const assets = await loaded.catch((error: unknown) => {
        loaded = undefined;
        throw error;
      });
      const asset = assets.get(path.slice(GRAPHIQL_PREFIX.length));
      if (!asset) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`No ${path}; GraphiQL's files are ${[...assets.keys()].join(', ')}.\n`);
        return;
      }
      res.setHeader('cache-control', CACHE_CONTROL);
      res.setHeader('etag', asset.etag);
      if (req.headers['if-none-match'] === asset.etag) {
        res.statusCode = 304;
        res.end();
        return;
      }
      res.writeHead(200, {
        'content-type': asset.contentType,
        'content-length': asset.body.length,
        'x-content-type-options': 'nosniff',
      });
      res.end(method === 'HEAD' ? undefined : asset.body);
    },
    servePage(res, endpointPath) {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
      res.setHeader('x-content-type-options', 'nosniff');
      res.end(renderGraphiQLPage(endpointPath));
    },
  };
}

/**
 * The page of the endpoint at `endpointPath`: its last segment, relative (`./graphql`), is what
 * the init script calls, so the page calls the address it was opened at, even behind a proxy.
 */
export function renderGraphiQLPage(endpointPath: string): string {
  const lastSegment = endpointPath.slice(endpointPath.lastIndexOf('/') + 1);
  const scripts = SCRIPTS.map(
    (name) => `<script src="${GRAPHIQL_PREFIX}${name}" defer></script>`,
  ).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GraphiQL · ${escapeHtml(endpointPath)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${GRAPHIQL_PREFIX}graphiql.min.css">
${scripts}
</head>
<body style="margin: 0">
<div id="graphiql" style="height: 100vh" data-endpoint="./${escapeHtml(lastSegment)}"></div>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}
