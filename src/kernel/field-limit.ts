/**
 * A field's `@rateLimit(window, max, identityArgs)`: what an adapter reads from its SDL
 * (adapters/rate-limit-directive.ts) and policies/limits/field-limits.ts enforces. It lives in
 * the kernel because both sides need it and neither may import the other.
 */
export interface FieldLimit {
  /** The window as written (`1m`): graphql-rate-limit reads it, and refusals quote it. */
  readonly window: string;
  readonly windowMs: number;
  /** Resolutions admitted in any window-long span, per identity (and argument values). */
  readonly max: number;
  /**
   * Argument paths (`id`, `input.id`) whose values key separate budgets; none: one budget per
   * identity for the field.
   */
  readonly identityArgs: readonly string[];
}
