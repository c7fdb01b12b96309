// Runs every test file with node's test runner. Node 20's --test does not expand globs, so the
// files are listed here; `npm test -- test/unit` narrows the run to a folder or file. What the
// selected files need from the machine (Chromium, openssl, redis-server) is found or installed
// first, and a Redis server answers at REDIS_URL (one of the run's own when none does).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ensureRedis, ensureTestTools } from './test-tools.mjs';

function collect(path) {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path)
    .sort()
    .flatMap((name) => collect(join(path, name)));
}

const roots = process.argv.slice(2);
const files = (roots.length > 0 ? roots : ['test']).flatMap(collect);
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const tools = ensureTestTools(files);
const redis = await ensureRedis(files, tools.REDIS_SERVER_PATH);
const { status } = spawnSync(process.execPath, ['--import', 'tsx', '--test', ...files], {
  stdio: 'inherit',
  env: { ...process.env, ...tools, ...redis.env },
});
redis.stop();
process.exit(status ?? 1);
