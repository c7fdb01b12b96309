import { ExitCode } from '../exit-codes.ts';

/**
 * The primary's exit code from its workers' (exit-codes.ts): 0 only when every worker drained,
 * 3 when one had to cut requests, and 1, the worst, when one failed or was killed by a signal
 * (`code` null) — a worker that did not say how it stopped did not drain.
 */
export function worstExit(codes: readonly (number | null)[]): number {
  let worst: number = ExitCode.OK;
  for (const code of codes) {
    if (code === ExitCode.OK) continue;
    if (code === ExitCode.REQUESTS_CUT) {
      if (worst === ExitCode.OK) worst = ExitCode.REQUESTS_CUT;
      continue;
    }
    return ExitCode.FAILED;
  }
  return worst;
}
