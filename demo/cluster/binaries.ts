// The Debian programs the cluster runs besides the gateway: HAProxy, and redis-server when no
// REDIS_URL is given. Found where Debian puts them; missing, the message names the package.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { freeLoopbackPort } from '../ports.ts';

/** A program the cluster needs is not installed; the message says which package brings it. */
export class MissingBinaryError extends Error {}

/** A Debian binary: its variable, else /usr/sbin or /usr/bin, else PATH. */
export function findBinary(name: string, variable: string, packageName: string): string {
  const named = process.env[variable];
  const candidates = named
    ? [named]
    : ['/usr/sbin', '/usr/bin', ...(process.env.PATH ?? '').split(delimiter)].map((dir) =>
        join(dir, name),
      );
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not this one.
    }
  }
  throw new MissingBinaryError(
    named
      ? `${variable}=${named} is not an executable file`
      : `${name} is not installed: it comes from Debian's ${packageName} package (sudo apt-get install ${packageName}), or set ${variable} to its binary`,
  );
}

/** A redis-server of our own on a free loopback port, nothing saved, stopped by its PID. */
export async function startRedis(binary: string): Promise<{ url: string; child: ChildProcess }> {
  const port = await freeLoopbackPort();
  const child = spawn(
    binary,
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
  });
  child.stdout.resume();
  return { url: `redis://127.0.0.1:${port}`, child };
}
