import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SHOP } from '../fixtures/graphs/shop.ts';
import { launchChromium } from '../helpers/browser.ts';
import { startGatewayOver, type GatewayOver } from '../helpers/env.ts';

// Generous: a loaded CI machine parses GraphiQL's megabyte of script slowly.
const WAIT = { timeout: 15_000 };

describe('GraphiQL in a browser, in development', () => {
  let env: GatewayOver;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;

  before(async () => {
    env = await startGatewayOver(SHOP, { server: { mode: 'development' } });
    chromium = await launchChromium();
  });

  after(async () => {
    await chromium?.close();
    await env?.close();
  });

  test('runs a typed query, sends typed headers without storing them, and shows the docs', async () => {
    const page = await chromium.context.newPage();
    // Script errors and refused loads (the page's content security policy) fail the test.
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
    });
    await page.goto(env.gateway.url);
    assert.equal(await page.title(), 'GraphiQL · /graphql');

    const editor = page.locator('.graphiql-query-editor .CodeMirror');
    await editor.waitFor(WAIT);
    await editor.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    // CodeMirror closes brackets as they open; typing a closing one steps over it.
    await page.keyboard.type('{ me { name username } }');
    // CodeMirror 5 keeps its instance on its element: the text as the editor holds it.
    const typed = await editor.evaluate((element) =>
      (element as unknown as { CodeMirror: { getValue(): string } }).CodeMirror.getValue(),
    );
    assert.equal(typed, '{ me { name username } }');

    await page.keyboard.press('Control+Enter');
    const result = page.locator('.result-window');
    await result.getByText('Ada Lovelace').waitFor(WAIT);
    assert.match((await result.textContent()) ?? '', /"username":\s*"ada"/);

    // A header typed into the headers editor is sent with the next run, and never stored.
    await page.locator('.graphiql-editor-tools button[data-name="headers"]').click(WAIT);
    const headers = page.locator('.graphiql-editor-tool .CodeMirror').last();
    await headers.waitFor(WAIT);
    await headers.click();
    await page.keyboard.type('{"x-secret": "token-in-headers"}');
    const sent = page.waitForRequest((r) => r.headers()['x-secret'] === 'token-in-headers', WAIT);
    await page.keyboard.press('Control+Enter');
    await sent;
    await page.getByRole('button', { name: 'Show History' }).click(WAIT);
    await page.locator('.graphiql-history-item', { hasText: 'me { name username }' }).waitFor(WAIT);

    await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    const docs = page.locator('.graphiql-doc-explorer');
    await docs
      .locator('a', { hasText: /^Query$/ })
      .first()
      .click(WAIT);
    await docs.locator('.graphiql-doc-explorer-field-name', { hasText: /^me$/ }).waitFor(WAIT);

    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }));
    assert.ok(stored.length > 2, 'GraphiQL keeps its tabs and history in localStorage');
    assert.doesNotMatch(stored, /token-in-headers/, 'headers must not be persisted');
    assert.deepEqual(problems, [], 'the page ran without errors');
    assert.deepEqual(chromium.outside, [], 'the page must load nothing from outside the gateway');
  });
});
