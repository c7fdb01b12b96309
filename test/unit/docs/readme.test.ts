import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_ANSWER, DEMO_QUERY } from '../../fixtures/demo.ts';
import { ROOT, readDoc } from '../../helpers/markdown.ts';

const readme = readDoc('README.md');

test('the README gives the two commands, and package.json has both scripts', () => {
  assert.match(readme, /^npm ci && npm start +#/m);
  assert.match(readme, /^npm test +#/m);
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  assert.ok(scripts.start && scripts.test);
});

test('the README shows the demo query and the answer the end-to-end test expects', () => {
  const body = /-d '(\{"query":.*\})'$/m.exec(readme)?.[1];
  assert.ok(body, 'a curl line with the demo query');
  assert.equal((JSON.parse(body) as { query: string }).query, DEMO_QUERY);
  const answer = /^```json\n([\s\S]*?)^```$/m.exec(readme)?.[1];
  assert.ok(answer, 'a JSON block with the answer');
  assert.deepEqual(JSON.parse(answer), DEMO_ANSWER);
});
