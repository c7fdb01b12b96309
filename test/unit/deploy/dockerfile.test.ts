import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RUNTIMES } from '../../../scripts/runtimes.mjs';

const ROOT = join(import.meta.dirname, '../../..');

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** The Dockerfile's instructions by stage: comments dropped, continuation lines joined. */
function parseDockerfile(text: string): { args: Instruction[]; stages: Instruction[][] } {
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const args: Instruction[] = [];
  const stages: Instruction[][] = [];
  for (const line of logical) {
    const [, keyword = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args: rest.replace(/\s+/g, ' ') };
    if (instruction.keyword === 'FROM') stages.push([]);
    (stages.at(-1) ?? args).push(instruction);
  }
  return { args, stages };
}

const dockerfile = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const deps = dockerfile.stages[0]!;
const final = dockerfile.stages.at(-1)!;
const all = (stage: Instruction[], keyword: string) =>
  stage.filter((i) => i.keyword === keyword).map((i) => i.args);
const only = (stage: Instruction[], keyword: string) => {
  const found = all(stage, keyword);
  assert.equal(found.length, 1, `one ${keyword} in the final stage`);
  return found[0]!;
};
/** An exec-form argument: a JSON array of strings (a shell form would put sh at PID 1). */
const execForm = (args: string): string[] => {
  assert.match(args, /^\[/, `exec form (a JSON array): ${args}`);
  return JSON.parse(args) as string[];
};

test("both stages start from NODE_IMAGE, whose default is the official slim image of line 24's pin", () => {
  const node24 = RUNTIMES.find((runtime) => runtime.line === 24)!;
  assert.deepEqual(dockerfile.args, [
    { keyword: 'ARG', args: `NODE_IMAGE=node:${node24.version}-bookworm-slim` },
  ]);
  assert.equal(dockerfile.stages.length, 2);
  assert.equal(deps[0]!.args, '${NODE_IMAGE} AS deps');
  assert.equal(final[0]!.args, '${NODE_IMAGE}');
});

test('the deps stage installs the production dependencies only, from the lock', () => {
  assert.ok(
    all(deps, 'RUN').some((run) => /\bnpm ci --omit=dev\b/.test(run)),
    'a RUN with npm ci --omit=dev',
  );
  // The final stage installs nothing: its node_modules is the deps stage's.
  assert.deepEqual(all(final, 'RUN'), []);
  assert.ok(all(final, 'COPY').includes('--from=deps /app/node_modules ./node_modules'));
});

test('npm settings come in as build secrets, never as arguments or environment of the image', () => {
  // A build argument used by RUN is written into the image history; a secret mount is not.
  assert.deepEqual(
    dockerfile.stages.flat().filter((i) => i.keyword === 'ARG'),
    [],
  );
  assert.match(all(deps, 'RUN').join('\n'), /--mount=type=secret,id=npm_registry /);
  for (const i of final) assert.doesNotMatch(i.args, /NPM_|registry/i, i.keyword);
});

test('the final stage runs as a user that is not root, in production mode', () => {
  const user = all(final, 'USER').at(-1);
  assert.ok(user, 'the final stage names a USER');
  assert.doesNotMatch(user, /^(root|0)(:|$)/);
  assert.ok(all(final, 'ENV').includes('NODE_ENV=production'));
});

test('node is PID 1 and gets SIGTERM: exec-form ENTRYPOINT and CMD, STOPSIGNAL SIGTERM', () => {
  assert.deepEqual(execForm(only(final, 'ENTRYPOINT')), ['node', 'bin/gateway.js']);
  const cmd = execForm(only(final, 'CMD'));
  assert.equal(cmd[0], 'start');
  assert.equal(cmd[cmd.indexOf('--host') + 1], '0.0.0.0', 'listens beyond loopback');
  assert.ok(cmd.includes('--config'));
  assert.equal(only(final, 'STOPSIGNAL'), 'SIGTERM');
});

test("the HEALTHCHECK asks the admin listener's /healthz with node, in exec form", () => {
  const healthcheck = only(final, 'HEALTHCHECK');
  const [, command = ''] = /\bCMD (\[.*\])$/.exec(healthcheck) ?? [];
  const test = execForm(command);
  assert.equal(test[0], 'node', 'the slim image has no curl');
  assert.match(test.join(' '), /127\.0\.0\.1:.*8088.*\/healthz/);
  assert.ok(all(final, 'EXPOSE')[0]?.split(' ').includes('8088'));
  assert.ok(all(final, 'EXPOSE')[0]?.split(' ').includes('4000'));
});

test('.dockerignore lets in what the Dockerfile copies and nothing else', () => {
  const lines = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  assert.equal(lines[0], '*', 'everything is left out first');
  const allowed = lines.slice(1).map((line) => line.replace(/^!/, ''));
  const copied = dockerfile.stages
    .flat()
    .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from='))
    .flatMap((i) => i.args.split(' ').slice(0, -1));
  assert.deepEqual([...allowed].sort(), [...new Set(copied)].sort());
});
