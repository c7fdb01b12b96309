import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SHOP } from '../fixtures/graphs/shop.ts';
import { launchChromium } from '../helpers/browser.ts';
import {
  get,
  startSubgraphs,
  startTestGateway,
  writeProject,
  type TestGateway,
} from '../helpers/env.ts';

// Development serves GraphiQL instead (graphiql.test.ts); the plain page is what production
// serves when `server.landing_page` turns it on.
describe('the landing page in a browser', () => {
  let subgraphs: Awaited<ReturnType<typeof startSubgraphs>>;
  let project: Awaited<ReturnType<typeof writeProject>>;
  let withPage: TestGateway;
  let prod: TestGateway;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;

  before(async () => {
    subgraphs = await startSubgraphs(SHOP);
    project = await writeProject(subgraphs.servers);
    withPage = await startTestGateway({
      configFile: project.configFile,
      server: { mode: 'production', landing_page: true },
    });
    prod = await startTestGateway({
      configFile: project.configFile,
      server: { mode: 'production' },
    });
    chromium = await launchChromium();
  });

  after(async () => {
    await chromium?.close();
    await withPage.close();
    await prod.close();
    await subgraphs.close();
    await project.remove();
  });

  test('runs a query typed into the page and shows the result', async () => {
    const page = await chromium.context.newPage();
    const external: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(withPage.origin)) external.push(r.url());
    });
    await page.goto(withPage.url);
    assert.equal(await page.title(), 'GraphQL gateway');
    await page.fill('#query', '{ me { name username } }');
    await page.click('#run');
    await page.locator('#status', { hasText: /^HTTP/ }).waitFor();
    const result = JSON.parse((await page.textContent('#result')) ?? '');
    assert.deepEqual(result, { data: { me: { name: 'Ada Lovelace', username: 'ada' } } });
    assert.match((await page.textContent('#status')) ?? '', /^HTTP 200 in \d+ ms$/);
    assert.deepEqual(external, [], 'the page must load nothing from outside the gateway');
  });

  test('shows invalid variables as a message instead of sending them', async () => {
    const page = await chromium.context.newPage();
    await page.goto(withPage.url);
    await page.fill('#variables', '{ nope');
    await page.click('#run');
    assert.match((await page.textContent('#status')) ?? '', /^Variables are not valid JSON/);
    assert.equal(await page.textContent('#result'), '');
  });

  test('production without landing_page serves no page and no introspection', async () => {
    const page = await get(prod.url, { accept: 'text/html' });
    assert.notEqual(page.status, 200);
    assert.doesNotMatch(page.text, /<html/);
    const { post } = await import('../helpers/env.ts');
    const introspection = await post(prod.url, { query: '{ __schema { queryType { name } } }' });
    assert.equal(introspection.status, 400);
    assert.equal(introspection.json.errors[0].extensions.code, 'INTROSPECTION_DISABLED');
  });
});
