/**
 * A self-contained page to try queries from a browser in development: no CDN, no external script
 * (Apollo's default landing page loads Sandbox from the internet, which private networks lack).
 */
export function renderLandingPage(graphqlPath: string): string {
  // JSON inside <script>: escape "<" so a path can never close the script element.
  const endpoint = JSON.stringify(graphqlPath).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GraphQL gateway</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; display: grid; grid-template-rows: auto 1fr; height: 100vh; }
  header { padding: 8px 16px; background: #1f2933; color: #fff; display: flex; gap: 16px; align-items: center; }
  main { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; padding: 8px; min-height: 0; }
  section { display: grid; grid-template-rows: 2fr auto 1fr; gap: 4px; min-height: 0; }
  textarea, pre { font: 13px/1.4 ui-monospace, monospace; border: 1px solid #cbd2d9; border-radius: 4px; padding: 8px; margin: 0; overflow: auto; }
  pre { background: #f5f7fa; }
  button { font: inherit; padding: 4px 16px; cursor: pointer; }
</style>
</head>
<body>
<header><strong>GraphQL gateway</strong><button id="run" type="button">Run (Ctrl+Enter)</button><span id="status" role="status"></span></header>
<main>
  <section>
    <textarea id="query" aria-label="Query" spellcheck="false">{\n  __typename\n}</textarea>
    <label for="variables">Variables (JSON)</label>
    <textarea id="variables" spellcheck="false">{}</textarea>
  </section>
  <pre id="result" aria-label="Result"></pre>
</main>
<script>
const endpoint = ${endpoint};
const $ = (id) => document.getElementById(id);
async function run() {
  let variables;
  try { variables = JSON.parse($('variables').value || '{}'); }
  catch (error) { $('status').textContent = 'Variables are not valid JSON: ' + error.message; return; }
  $('status').textContent = 'Running...';
  const started = performance.now();
  try {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
      body: JSON.stringify({ query: $('query').value, variables }),
    });
    const text = await response.text();
    let shown = text;
    try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch {}
    $('result').textContent = shown;
    $('status').textContent = 'HTTP ' + response.status + ' in ' + Math.round(performance.now() - started) + ' ms';
  } catch (error) {
    $('status').textContent = 'Request failed: ' + error.message;
  }
}
$('run').addEventListener('click', run);
document.addEventListener('keydown', (event) => { if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) run(); });
</script>
</body>
</html>
`;
}
