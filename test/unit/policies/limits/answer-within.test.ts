import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { answerWithin } from '../../../../src/kernel/redis-reply.ts';

/**
 * A reply over a real socket from another process, so it can arrive while this one is busy and
 * wait in the socket, as a Redis reply does.
 */
async function echo() {
  const server = spawn(process.execPath, [
    '-e',
    `require('node:net').createServer((s) => s.on('data', (d) => s.write(d)))
      .listen(0, '127.0.0.1', function () { console.log(this.address().port) })`,
  ]);
  const [port] = (await once(server.stdout, 'data')) as [Buffer];
  const socket = connect(Number(String(port).trim()), '127.0.0.1');
  await once(socket, 'connect');
  return {
    ask: () => {
      const reply = once(socket, 'data').then(([data]) => String(data));
      socket.write('pong');
      return reply;
    },
    close: () => {
      socket.destroy();
      server.kill();
    },
  };
}

const busy = (ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until);
};

test('a reply that came in while the event loop was busy past the timeout still wins', async () => {
  const conn = await echo();
  try {
    const reply = answerWithin(conn.ask(), 20);
    // Block long enough for the server's answer to arrive and for the timer to be due.
    await new Promise((resolve) => setImmediate(resolve));
    busy(150);
    assert.equal(await reply, 'pong');
    // A plain race against a timer loses the same reply: the timer runs before the socket read.
    const raced = Promise.race([
      conn.ask(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), 20)),
    ]);
    await new Promise((resolve) => setImmediate(resolve));
    busy(150);
    await assert.rejects(raced, /timed out/);
  } finally {
    conn.close();
  }
});

test('no reply: rejects after the timeout', async () => {
  const started = performance.now();
  await assert.rejects(answerWithin(new Promise(() => {}), 30), /did not answer within 30 ms/);
  assert.ok(performance.now() - started >= 29);
});

test('errors pass through', async () => {
  await assert.rejects(answerWithin(Promise.reject(new Error('NOSCRIPT')), 30), /NOSCRIPT/);
});
