import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findTool, planFor, TOOLS } from '../../../scripts/test-tools.mjs';

const chromium = TOOLS.find((tool) => tool.name === 'chromium')!;
const openssl = TOOLS.find((tool) => tool.name === 'openssl')!;
const only =
  (...files: string[]) =>
  (file: string) =>
    files.includes(file);

test('CHROMIUM_PATH wins over the lookup', () => {
  const env = { CHROMIUM_PATH: '/opt/chromium/chrome', PATH: '/usr/bin' };
  const executable = only('/opt/chromium/chrome', '/usr/bin/chromium');
  assert.equal(findTool(chromium, { env, executable }), '/opt/chromium/chrome');
});

test('a CHROMIUM_PATH that names no executable stops the run instead of looking elsewhere', () => {
  const env = { CHROMIUM_PATH: '/nowhere/chromium', PATH: '/usr/bin' };
  assert.throws(
    () => findTool(chromium, { env, executable: only('/usr/bin/chromium') }),
    /CHROMIUM_PATH=\/nowhere\/chromium is not an executable file/,
  );
});

test("Debian's path comes before PATH, and PATH is searched in order", () => {
  const env = { PATH: '/a:/b' };
  assert.equal(
    findTool(chromium, { env, executable: only('/b/chromium', '/usr/bin/chromium') }),
    '/usr/bin/chromium',
  );
  assert.equal(findTool(chromium, { env, executable: only('/b/chromium') }), '/b/chromium');
  assert.equal(
    findTool(openssl, { env, executable: only('/a/openssl', '/b/openssl') }),
    '/a/openssl',
  );
});

test('a tool found nowhere is missing', () => {
  assert.equal(findTool(chromium, { env: { PATH: '/a' }, executable: () => false }), undefined);
});

test('root with apt-get installs the missing packages', () => {
  assert.deepEqual(planFor([chromium, openssl], { root: true, aptGet: true }), {
    install: ['chromium', 'openssl'],
  });
});

test('anyone else is told, in one line, what to install', () => {
  for (const may of [
    { root: false, aptGet: true },
    { root: true, aptGet: false },
  ]) {
    const plan = planFor([chromium], may);
    assert.ok('stop' in plan);
    assert.doesNotMatch(plan.stop, /\n/);
    assert.match(plan.stop, /sudo apt-get install chromium`, or set CHROMIUM_PATH/);
  }
});
