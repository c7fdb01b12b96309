import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  asksForHelp,
  HELP,
  helpKey,
  MAX_WORKERS,
  parsePort,
  parseWorkers,
} from '../../../src/cli/usage.ts';

test('a port is 0 to 65535 written in digits only', () => {
  const table: [string, number | undefined][] = [
    ['0', 0],
    ['4000', 4000],
    ['65535', 65_535],
    ['65536', undefined],
    ['-1', undefined],
    ['abc', undefined],
    ['', undefined],
    [' 80', undefined],
    ['0x50', undefined],
    ['8e1', undefined],
    ['80.0', undefined],
    ['123456', undefined],
  ];
  for (const [value, port] of table) assert.equal(parsePort(value), port, JSON.stringify(value));
});

test('what was typed picks the usage --help prints', () => {
  const table: [string, string | undefined, string | undefined][] = [
    ['start', '--help', 'start'],
    ['compose', undefined, 'compose'],
    ['serve-subgraph', 'users', 'serve-subgraph'],
    ['rest', 'print', 'rest print'],
    ['grpc', 'print', 'grpc print'],
    ['manifest', 'build', 'manifest build'],
    ['key', 'hash', 'key hash'],
    ['key', 'new', 'key new'],
    // The group alone, or with a subcommand it does not have: both of its subcommands.
    ['key', '--help', 'key'],
    ['version', undefined, 'version'],
    ['help', undefined, 'help'],
    ['deploy', undefined, undefined],
  ];
  for (const [command, next, key] of table) {
    assert.equal(helpKey(command, next), key, `${command} ${next}`);
    if (key !== undefined) assert.match(HELP[key] as string, /^Usage: gateway /);
  }
});

test('every command usage names its flags, an example, and --help', () => {
  for (const [key, text] of Object.entries(HELP)) {
    assert.match(text, /\nExample:\n {2}(echo .*\| )?gateway /, key);
    if (key !== 'version' && key !== 'help') assert.match(text, /--help, -h/, key);
  }
});

test('--help and -h ask for help anywhere before --, never after', () => {
  const table: [string[], boolean][] = [
    [['--help'], true],
    [['users', '-h'], true],
    [['--config', 'x.yaml', '--help'], true],
    [['--', '--help'], false],
    [['--helpful'], false],
    [[], false],
  ];
  for (const [args, asks] of table) assert.equal(asksForHelp(args), asks, args.join(' '));
});

test('--workers is 1 to MAX_WORKERS in digits, or auto for the available cores', () => {
  const table: [string, number, number | undefined][] = [
    ['1', 8, 1],
    ['2', 8, 2],
    [String(MAX_WORKERS), 8, MAX_WORKERS],
    [String(MAX_WORKERS + 1), 8, undefined],
    ['0', 8, undefined],
    ['-1', 8, undefined],
    ['x', 8, undefined],
    ['', 8, undefined],
    ['2.0', 8, undefined],
    [' 2', 8, undefined],
    ['0x2', 8, undefined],
    ['AUTO', 8, undefined],
    ['auto', 8, 8],
    // A host larger than the cap gets the cap; a parallelism of 0 still runs one worker.
    ['auto', 1000, MAX_WORKERS],
    ['auto', 0, 1],
  ];
  for (const [value, available, workers] of table)
    assert.equal(
      parseWorkers(value, available),
      workers,
      `${JSON.stringify(value)} of ${available}`,
    );
});
