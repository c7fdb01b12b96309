/**
 * The gateway process's exit codes, for supervisors and deploy scripts (docs/operations.md). The
 * first three follow the common CLI convention; a shutdown that had to cut requests is not a
 * clean stop, and says so, so that a rollout can tell a drained instance from one that dropped
 * clients.
 */
export const ExitCode = {
  /** Stopped after every in-flight request finished. */
  OK: 0,
  /** The config is invalid or does not compose, a port cannot be bound, shutdown failed, or a
   * second signal asked to exit without draining. */
  FAILED: 1,
  /** Wrong usage: an unknown command or flag. */
  USAGE: 2,
  /** Stopped, but `server.shutdown_timeout` ran out with requests still in flight: they were cut. */
  REQUESTS_CUT: 3,
} as const;
