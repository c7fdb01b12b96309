import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/** Ends every child a bench started (by the handle it kept, never by name) and waits for each. */
export async function stopChildren(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    }),
  );
}
