import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** The installed command itself (package.json `bin`). */
export const BIN = join(import.meta.dirname, '../../bin/gateway.js');

export interface GatewayProcess {
  readonly child: ChildProcess;
  /** The GraphQL endpoint the process logged it listens on. */
  readonly url: string;
  /** The admin listener's origin, when it opened one (production mode). */
  readonly adminOrigin: string | undefined;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  readonly exited: Promise<number | string>;
}

/**
 * Spawns a process that runs `gateway start` (the command and its arguments are the caller's:
 * `node bin/gateway.js start ...`, or a wrapper such as npm exec) and resolves once it logs that
 * it listens, with stdout drained from then on so it never blocks on a full pipe.
 */
export async function startGatewayProcess(options: {
  command: string;
  args: string[];
  cwd: string;
  env?: Record<string, string>;
}): Promise<GatewayProcess> {
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    // The admin listener on a free port: processes run side by side, and 8088 fits one.
    env: { ...process.env, PORT: '', ADMIN_PORT: '0', ...options.env },
  });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  const exited = once(child, 'exit').then(([code, signal]) => (code ?? signal) as number | string);
  const lines = createInterface({ input: child.stdout! });
  const listening = (async () => {
    for await (const line of lines) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as { msg?: string; url?: string; admin?: string };
      if (entry.msg === 'gateway listening') return entry;
    }
    throw new Error('no listening line');
  })();
  const failed = exited.then((code) => {
    throw new Error(`gateway exited with ${code}: ${stderr}`);
  });
  // Whichever loses the race settles later with no one listening.
  listening.catch(() => {});
  failed.catch(() => {});
  const entry = await Promise.race([listening, failed]);
  lines.on('line', () => {});
  return {
    child,
    url: entry.url as string,
    adminOrigin: entry.admin,
    stderr: () => stderr,
    exited,
  };
}
