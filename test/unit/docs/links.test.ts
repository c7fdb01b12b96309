import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ROOT, readDoc } from '../../helpers/markdown.ts';

/**
 * Pages written on another branch of issue 16 (pipeline and lifecycle, architecture, operations,
 * runtimes): linked already, checked once they exist.
 */
const WRITTEN_ELSEWHERE = new Set([
  'docs/pipeline.md',
  'docs/architecture.md',
  'docs/operations.md',
  'docs/runtimes.md',
]);

const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(page: string): Set<string> {
  const text = readDoc(page.replace(/^docs\//, ''));
  const outsideCode = text.replace(/^```[\s\S]*?^```$/gm, '');
  return new Set([...outsideCode.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchor(m[1] as string)));
}

test('every relative link in the README and docs/ reaches a page and a heading that exist', () => {
  const broken: string[] = [];
  for (const page of PAGES) {
    const text = readDoc(page.replace(/^docs\//, '')).replace(/^```[\s\S]*?^```$/gm, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target as string)) continue;
      const [file = '', hash] = (target as string).split('#');
      const path = file ? relative(ROOT, join(ROOT, dirname(page), file)) : page;
      if (WRITTEN_ELSEWHERE.has(path) && !existsSync(join(ROOT, path))) continue;
      if (!existsSync(join(ROOT, path))) broken.push(`${page}: ${target}`);
      else if (hash && path.endsWith('.md') && !anchorsOf(path).has(hash))
        broken.push(`${page}: ${target} (no such heading)`);
    }
  }
  assert.deepEqual(broken, []);
});
